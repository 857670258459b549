"""Retrieval only, for tools and evaluation."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RunnerDep, ServiceDep
from api.errors import ERROR_RESPONSES
from api.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, service: ServiceDep, runner: RunnerDep) -> SearchResponse:
    """The passages that best match the query, best first."""
    hits = await runner.run(service.search, body.query, body.top_k, body.doc_ids)
    return SearchResponse(
        results=[
            SearchResult(
                doc_id=h.doc_id,
                text=h.text,
                start=h.chunk.start,
                end=h.chunk.end,
                score=round(h.score, 4),
                page=service.page_of(h),
            )
            for h in hits
        ]
    )
