"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def readyz(request: Request) -> HealthResponse | JSONResponse:
    """The model and the index are loaded (503 until then, with the reason if loading failed)."""
    service = request.app.state.service
    if service is None:
        detail = request.app.state.load_error or "loading"
        body = HealthResponse(status="unavailable", detail=detail)
        return JSONResponse(body.model_dump(), status_code=503)
    snapshot = service.snapshot
    return HealthResponse(
        status="ready",
        documents=len(snapshot.documents),
        chunks=len(snapshot.chunks),
        index_version=snapshot.version,
    )
