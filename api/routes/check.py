"""Fact checking a draft against the documents."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import RunnerDep, ServiceDep
from api.errors import ERROR_RESPONSES
from api.schemas import CheckRequest, CheckResponse, CitationOut, ClaimOut

router = APIRouter(tags=["check"], responses=ERROR_RESPONSES)


@router.post("/check", response_model=CheckResponse)
async def check(body: CheckRequest, service: ServiceDep, runner: RunnerDep) -> CheckResponse:
    """Mark each sentence of a draft supported, contradicted or not found, with its evidence."""
    claims = await runner.run(service.check, body.text)
    return CheckResponse(
        claims=[
            ClaimOut(
                text=c.text,
                verdict=c.verdict,
                score=c.score,
                reason=c.reason,
                evidence=[CitationOut(**asdict(e)) for e in c.evidence],
            )
            for c in claims
        ]
    )
