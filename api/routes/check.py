"""Fact checking a draft against the documents."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import RunnerDep, ServiceDep
from api.errors import ERROR_RESPONSES
from api.schemas import CheckRequest, CheckResponse, CitationOut, ClaimOut
from qa.check import ClaimCheck, FactChecker
from qa.service import QAService

router = APIRouter(tags=["check"], responses=ERROR_RESPONSES)


def check_draft(service: QAService, text: str) -> list[ClaimCheck]:
    """Each sentence of text checked against the service's current index."""
    return FactChecker(service.answerer).check(service.snapshot, text)


@router.post("/check", response_model=CheckResponse)
async def check(body: CheckRequest, service: ServiceDep, runner: RunnerDep) -> CheckResponse:
    """Mark each sentence of a draft supported, contradicted or not found, with its evidence."""
    claims = await runner.run(check_draft, service, body.text)
    return CheckResponse(
        claims=[
            ClaimOut(
                text=c.text,
                verdict=c.verdict,
                score=c.score,
                evidence=[CitationOut(**asdict(e)) for e in c.evidence],
            )
            for c in claims
        ]
    )
