"""Request ids, /metrics and rate limits."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.observability import RequestIdFilter
from api.rate_limit import RateLimitMiddleware, parse_limits
from api.settings import Settings


def test_every_response_has_a_request_id_and_errors_echo_it(seed_client: TestClient) -> None:
    ok = seed_client.get("/healthz")
    assert len(ok.headers["x-request-id"]) == 32
    missing = seed_client.get("/v1/documents/nope.txt", headers={"X-Request-ID": "proxy-7.a:b"})
    assert missing.headers["x-request-id"] == "proxy-7.a:b"
    assert missing.json()["error"]["request_id"] == "proxy-7.a:b"
    invalid = seed_client.post("/v1/ask", json={}, headers={"X-Request-ID": "bad id;/"})
    assert invalid.status_code == 422
    assert len(invalid.headers["x-request-id"]) == 32
    assert invalid.json()["error"]["request_id"] == invalid.headers["x-request-id"]


def test_error_responses_are_logged_with_their_request_id(
    seed_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="api.requests"):
        seed_client.get("/v1/documents/nope.txt", headers={"X-Request-ID": "trace-42"})
    [record] = [r for r in caplog.records if r.name == "api.requests"]
    assert record.getMessage() == "GET /v1/documents/nope.txt -> 404"
    assert record.request_id == "trace-42"  # type: ignore[attr-defined]


def test_metrics_in_prometheus_text(seed_client: TestClient) -> None:
    seed_client.post("/v1/ask", json={"question": "What does China oppose?"})
    seed_client.get("/v1/documents/nope.txt")
    response = seed_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert 'qa_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert (
        'qa_http_requests_total{method="GET",route="/v1/documents/{doc_id}",status="404"}' in text
    )
    assert 'qa_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/ask"}' in (
        text
    )
    assert "qa_model_batch_size_count" in text
    assert "qa_index_documents 1.0" in text
    assert "qa_index_chunks 4.0" in text
    assert "qa_index_version 1.0" in text
    assert re.search(r"^qa_index_reloads_total \d+\.0$", text, re.MULTILINE)


def _limited_app(limit: str) -> TestClient:
    async def hello(_request: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/v1/ask", hello), Route("/healthz", hello)])
    app.add_middleware(RateLimitMiddleware, limits=parse_limits(limit))
    return TestClient(app)


def test_rate_limit_per_key_is_a_429_with_the_error_body() -> None:
    client = _limited_app("2/minute")
    alice = {"Authorization": "Bearer alice"}
    assert [client.get("/v1/ask", headers=alice).status_code for _ in range(2)] == [200, 200]
    over = client.get("/v1/ask", headers=alice)
    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 60
    error = over.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"].startswith("more than 2 per 1 minute for this client; retry in ")
    # Another key has its own allowance; the probes are never limited.
    assert client.get("/v1/ask", headers={"Authorization": "Bearer bob"}).status_code == 200
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_rate_limit_setting_is_checked() -> None:
    assert Settings(rate_limit="10/second;500/hour").rate_limit == "10/second;500/hour"
    assert Settings().rate_limit is None
    with pytest.raises(ValidationError, match="is not a rate limit such as 60/minute"):
        Settings(rate_limit="lots")


def test_the_app_applies_the_rate_limit_setting() -> None:
    from api.app import create_app

    # Without entering the lifespan nothing loads: /v1/ answers 503 until the limit is reached.
    client = TestClient(create_app(Settings(rate_limit="2/minute")))
    statuses = [client.get("/v1/documents").status_code for _ in range(3)]
    assert statuses == [503, 503, 429]
    assert client.get("/v1/documents").json()["error"]["code"] == "rate_limited"
    assert client.get("/healthz").status_code == 200
