"""The HTTP contract's edges: field names in errors, 405s, strict types, a schema as tight as
validation."""

from __future__ import annotations

import re
import sys

import pytest
from fastapi.testclient import TestClient

from api.schemas import NON_BLANK

# JSON Schema patterns are ECMAScript's, whose \s is not Python's str.isspace().
ECMASCRIPT_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def test_a_search_query_error_names_the_query_field(seed_client: TestClient) -> None:
    response = seed_client.post("/v1/search", json={"query": "  "})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "query"


@pytest.mark.parametrize("stream", ["yes", 1, "true"])
def test_stream_must_be_a_json_boolean(seed_client: TestClient, stream: object) -> None:
    response = seed_client.post(
        "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "What does China oppose?"}],
            "stream": stream,
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "stream"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/search", "POST"),
        ("GET", "/v1/ask", "POST"),
        ("DELETE", "/healthz", "GET"),
        ("PATCH", "/v1/documents/x.txt", "DELETE, GET, PUT"),
    ],
)
def test_405_says_which_methods_are_allowed(
    seed_client: TestClient, method: str, path: str, allow: str
) -> None:
    response = seed_client.request(method, path)
    assert response.status_code == 405
    assert sorted(response.headers["allow"].split(", ")) == allow.split(", ")
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_schema_declares_the_limits_validation_enforces(seed_client: TestClient) -> None:
    openapi = seed_client.get("/openapi.json").json()
    schemas = openapi["components"]["schemas"]
    question = schemas["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"]) == (1, 2000)
    assert question["pattern"] == NON_BLANK
    assert schemas["SearchRequest"]["properties"]["query"]["maxLength"] == 2000
    assert schemas["CheckRequest"]["properties"]["text"]["maxLength"] == 20_000
    conversation_id = schemas["AskRequest"]["properties"]["conversation_id"]["anyOf"][0]
    assert conversation_id["format"] == "uuid"
    upload = openapi["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    assert upload["application/json"]["schema"]["properties"]["doc_id"]["maxLength"] == 512
    chat = schemas["ChatCompletionRequest"]["properties"]
    assert (chat["messages"]["minItems"], chat["messages"]["maxItems"]) == (1, 200)
    assert chat["stream"]["type"] == "boolean"


def test_what_the_text_pattern_accepts_under_json_schema_is_not_blank_to_python() -> None:
    as_ecmascript = NON_BLANK.replace(r"\S", f"[^{ECMASCRIPT_SPACE}]")
    ecmascript = re.compile(as_ecmascript.replace(r"\s", ECMASCRIPT_SPACE))
    blank = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert [c for c in blank if ecmascript.search(c)] == []


@pytest.mark.parametrize("blank", ["\x85", "\x1c\x1f", " \u3000"])
def test_a_query_python_finds_blank_is_refused(seed_client: TestClient, blank: str) -> None:
    response = seed_client.post("/v1/search", json={"query": blank})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "query"
