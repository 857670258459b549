"""Questions answered with verbatim citations."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import RunnerDep, ServiceDep, SettingsDep
from api.errors import ERROR_RESPONSES
from api.schemas import AskRequest, AskResponse, CitationOut

router = APIRouter(tags=["ask"], responses=ERROR_RESPONSES)


@router.post("/v1/ask", response_model=AskResponse)
async def ask(
    body: AskRequest, service: ServiceDep, runner: RunnerDep, settings: SettingsDep
) -> AskResponse:
    """Answer a question by quoting the documents, or say that they do not answer it."""
    answer = await runner.run(service.ask, body.question, body.top_k or settings.top_k)
    return AskResponse(
        answer=answer.text,
        answered=answer.answered,
        citations=[CitationOut(**asdict(c)) for c in answer.citations],
    )
