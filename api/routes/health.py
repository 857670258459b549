"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

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
    status = service.status()
    return HealthResponse(
        # Degraded: the published version is damaged and an older one is served.
        status="degraded" if status.damage else "ready",
        detail=status.damage,
        documents=status.documents,
        chunks=status.chunks,
        index_version=status.version,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latencies, model batches, the index."""
    body = request.app.state.metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
