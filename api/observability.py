"""Request ids and Prometheus metrics: what an operator behind a proxy needs to follow requests.

Plain ASGI middleware (as api.timing): each costs microseconds and leaves streamed responses
alone. Metrics live in a registry of their own per app, so several apps in one process (tests)
do not collide in prometheus-client's global one.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from fastapi import routing as fastapi_routing
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from qa.service import IndexStatus

logger = logging.getLogger("api.requests")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept when it is a plain token; anything else is replaced by our own.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is a plain token of at most 128 characters, else new."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _ACCEPTABLE_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Gives every log record a `request_id` (the current request's, or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


class RequestIdMiddleware:
    """Sets X-Request-ID on every response and the current request id for logs and errors.

    Error responses are logged with their id: clients quote it, operators grep for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = [*message.get("headers", [])]
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
                status = message["status"]
                if status >= 400:
                    level = logging.WARNING if status >= 500 else logging.INFO
                    logger.log(level, "%s %s -> %d", scope["method"], scope["path"], status)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Left set: the 500 handler runs outside every middleware, and quotes the id.
            raise
        current_request_id.reset(token)


class ServiceCollector(Collector):
    """Index figures read at scrape time from the loaded service (nothing while loading)."""

    def __init__(self, status: Callable[[], tuple[IndexStatus, int] | None]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        current = self.status()
        if current is None:
            return
        status, reloads = current
        yield GaugeMetricFamily(
            "qa_index_documents", "Documents in the served index version.", status.documents
        )
        yield GaugeMetricFamily(
            "qa_index_chunks", "Chunks in the served index version.", status.chunks
        )
        yield GaugeMetricFamily(
            "qa_index_version", "Number of the served index version.", status.version
        )
        yield CounterMetricFamily(
            "qa_index_reloads", "New index versions loaded since start.", reloads
        )


class Metrics:
    """The app's Prometheus metrics and their registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds",
            "Time from request to the end of the response, by route template and method.",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.batch_sizes = Histogram(
            "qa_model_batch_size",
            "Texts per embedding model call (concurrent requests batched together).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

    def watch_service(self, status: Callable[[], tuple[IndexStatus, int] | None]) -> None:
        """Report the index figures that `status` returns at each scrape."""
        self.registry.register(ServiceCollector(status))

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by the template of the route it matched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: dict[int, str] | None = None

    def route_template(self, scope: Scope) -> str:
        """The matched route's full path template (with the router's prefix), or "unmatched"."""
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:
            # Routes of included routers carry their path without the prefix; FastAPI's route
            # contexts have the full template. The routes are fixed once requests arrive.
            contexts = getattr(fastapi_routing, "iter_route_contexts", None)
            app_routes = getattr(scope.get("app"), "routes", [])
            self._templates = {
                id(c.original_route): c.path_format
                for c in (contexts(app_routes) if contexts else [])
                if c.path_format
            }
        return self._templates.get(id(route)) or getattr(route, "path", None) or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            # The template (/v1/documents/{doc_id:path}), never the path: ids would explode
            # the number of series.
            route = self.route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - start)
