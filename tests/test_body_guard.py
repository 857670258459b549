"""JSON bodies: a size limit decided before reading, and lone surrogates refused at the edge."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from api.app import create_app
from api.body_guard import JsonBodyGuard, unencodable_field
from api.settings import Settings

LONE = "x \ud800"
SURROGATE_BODIES = [
    ("/v1/search", {"query": LONE}, "query"),
    ("/v1/ask", {"question": LONE}, "question"),
    ("/v1/check", {"text": LONE + "."}, "text"),
    (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": LONE}]},
        "messages.0.content",
    ),
    (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": LONE}], "stream": True},
        "messages.0.content",
    ),
    ("/v1/documents", {"doc_id": "a.txt", "text": LONE}, "text"),
]


def _post_raw(client: TestClient, path: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
    # json.dumps escapes the surrogate as \ud800, valid JSON that Python's parser accepts.
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_BODIES)
def test_a_lone_surrogate_is_422_naming_the_field(
    seed_client: TestClient, path: str, body: dict[str, object], field: str
) -> None:
    response = _post_raw(seed_client, path, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["field"] == field


def test_a_surrogate_pair_is_accepted(seed_client: TestClient) -> None:
    response = _post_raw(seed_client, "/v1/search", {"query": "China \U0001f600"})
    assert response.status_code == 200


def test_a_jsonl_upload_with_a_lone_surrogate_is_refused(seed_client: TestClient) -> None:
    line = json.dumps({"_id": "a", "text": LONE}) + "\n"
    response = seed_client.post("/v1/documents", files={"files": ("a.jsonl", line.encode())})
    assert response.status_code == 422
    assert "lone surrogate" in response.json()["error"]["message"]


def test_unencodable_field_names_the_path() -> None:
    assert unencodable_field({"a": [1, {"b": "ok"}, {"c": LONE}]}) == ("a", "2", "c")
    assert unencodable_field({"a": "ok"}) is None


def test_a_body_over_the_limit_is_413(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_json_mb": 0.001}))
    with TestClient(app) as client:
        response = client.post("/v1/ask", json={"question": "x" * 2000})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert "QA_MAX_JSON_MB" in response.json()["error"]["message"]
        assert client.post("/v1/ask", json={"question": "China?"}).status_code == 200


def test_the_declared_length_is_refused_before_the_body_is_read() -> None:
    read: list[Message] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        raise AssertionError("the app must not be called")

    async def receive() -> Message:
        read.append({})
        return {"type": "http.request", "body": b"{}", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    guard = JsonBodyGuard(app, limit=lambda path: (1000, "QA_MAX_JSON_MB"))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/ask",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"200000000")],
    }
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 413
    assert read == []
