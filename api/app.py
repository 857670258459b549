"""The FastAPI application: create_app(settings) loads the model and the index once (api.wiring)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from api.auth import ApiKeyMiddleware, ApiKeys, require_api_key
from api.body_guard import JsonBodyGuard
from api.deps import Runner
from api.errors import install_error_handlers
from api.observability import Metrics, MetricsMiddleware, RequestIdMiddleware
from api.rate_limit import RateLimitMiddleware, parse_limits
from api.routes import api_router, health
from api.settings import Settings
from api.timing import ServerTimingMiddleware
from api.wiring import load_generator, load_service
from index.errors import QAError
from qa.conversation_store import ConversationStore
from qa.service import IndexStatus, QAService

logger = logging.getLogger("api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the model and index load in its lifespan, once."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run on a pool of threads; their model calls meet on the model thread.
        app.state.runner = Runner("query", workers=settings.query_threads)
        app.state.conversations = ConversationStore(settings.conversations_database)
        # Uploads parse, lock and publish here, one at a time.
        writer = app.state.writer = Runner("writer")

        def load() -> None:
            try:
                service = load_service(
                    settings, micro_batches=True, on_batch=metrics.batch_sizes.observe
                )
                app.state.generator = load_generator(settings, service)
                app.state.service = service
            except QAError as exc:
                app.state.load_error = exc.message
                # The client sees the fixed message; the log gets what is damaged, and where.
                logger.error("could not load the index: %s", str(exc) or exc.message)
                raise
            except Exception:
                app.state.load_error = "loading the model or the index failed; see the log"
                logger.exception("could not load the model or the index")
                raise

        # Loading (and indexing the seeds) is a write: it runs on the writer thread.
        future = writer.executor.submit(load)
        if not settings.background_load:
            future.result()
        try:
            yield
        finally:
            writer.shutdown()
            app.state.runner.shutdown()
            if isinstance(app.state.service, QAService):
                app.state.service.close()
            app.state.conversations.close()

    app = FastAPI(
        title="Document QA",
        version="0.1.0",
        summary="Answers questions about documents with verbatim cited excerpts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = None
    app.state.generator = None
    app.state.load_error = None
    app.state.started = int(time.time())
    metrics = app.state.metrics = Metrics()

    def index_status() -> tuple[IndexStatus, int] | None:
        service: QAService | None = app.state.service
        return None if service is None else (service.status(), service.reloads)

    metrics.watch_service(index_status)
    install_error_handlers(app)
    # Added first, so it runs inside auth: a body is read only for a client with a key.
    app.add_middleware(JsonBodyGuard, limit=settings.json_body_limit)
    if settings.api_keys:
        # Added before CORS, so CORS wraps it: preflights and 401s get CORS headers.
        app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys)
    if settings.rate_limit:
        # Inside CORS, so a 429 carries CORS headers; outside auth, so key guessing counts too.
        app.add_middleware(RateLimitMiddleware, limits=parse_limits(settings.rate_limit))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outside everything that can answer an error, so every error body carries the id.
    app.add_middleware(RequestIdMiddleware)
    # Added last, so it is outermost and times the other middleware too.
    app.add_middleware(ServerTimingMiddleware)
    app.include_router(health.router)
    # With keys, the /v1 routes declare the bearer scheme, which OpenAPI then shows.
    app.state.api_keys = ApiKeys(settings.api_keys)
    keyed = [Security(require_api_key)] if settings.api_keys else []
    app.include_router(api_router, dependencies=keyed)

    static = files("api") / "static"
    if static.joinpath("index.html").is_file():
        app.mount("/static", StaticFiles(directory=str(static)), name="static")

        @app.get("/", include_in_schema=False)
        async def page() -> Response:
            return FileResponse(str(static / "index.html"))

    return app
