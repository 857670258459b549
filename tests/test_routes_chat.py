"""The OpenAI-compatible chat API through TestClient: bodies, events and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.chat import pieces
from api.settings import Settings
from tests.conftest import SEED_DOC_ID, SEEDS, error_body

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
HISTORY = [
    {"role": "system", "content": "You answer from the documents."},
    {"role": "user", "content": "What agencies does China support?"},
    {"role": "assistant", "content": "China supports the United Nations counter terrorism office"},
    {"role": "user", "content": "What should they strengthen coordination with?"},
]


def _events(body: str) -> list[str]:
    assert body.endswith("\n\n")
    events = body.split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events)
    return [e.removeprefix("data: ") for e in events]


@pytest.mark.parametrize(
    "text", ["", "one", "“Quoted words, several of them.” [1] “More.” [2]", "a  b\n c "]
)
def test_pieces_join_to_the_text(text: str) -> None:
    assert "".join(pieces(text)) == text
    assert all(len(p.split()) <= 4 for p in pieces(text))


def test_completion_uses_the_history_for_a_follow_up(seed_client: TestClient) -> None:
    response = seed_client.post(
        "/v1/chat/completions", json={"model": "anything", "messages": HISTORY}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "qa-extractive"
    assert body["answered"] is True
    [choice] = body["choices"]
    assert (choice["index"], choice["finish_reason"]) == (0, "stop")
    assert choice["message"]["role"] == "assistant"
    top = body["citations"][0]
    assert "strengthen coordination with regional organizations" in top["text"]
    assert SEED_TEXT[top["start"] : top["end"]] == top["text"]
    content = choice["message"]["content"]
    assert f"\u201c{top['text']}\u201d [1]" in content
    _answer, notes = content.split("\n\n")
    assert notes.splitlines() == [
        f'[{c["n"]}] {SEED_DOC_ID}, characters {c["start"]}-{c["end"]}: "{c["text"]}"'
        for c in body["citations"]
    ]
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_stream_sends_citations_once_then_the_text_then_done(seed_client: TestClient) -> None:
    plain = seed_client.post("/v1/chat/completions", json={"messages": HISTORY}).json()
    response = seed_client.post("/v1/chat/completions", json={"messages": HISTORY, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["citations"] == plain["citations"]
    assert chunks[0]["answered"] is True
    assert all("citations" not in c and "answered" not in c for c in chunks[1:])
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]


def test_stream_with_usage_ends_with_a_usage_chunk(seed_client: TestClient) -> None:
    response = seed_client.post(
        "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "What does China oppose?"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events = _events(response.text)
    usage_chunk = json.loads(events[-2])
    assert usage_chunk["choices"] == []
    # The MiniLM tokenizer: what, does, china, oppose, ? (the issue saw 4: words were counted).
    assert usage_chunk["usage"]["prompt_tokens"] == 5
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-2])
    service = seed_client.app.state.service  # type: ignore[attr-defined]
    assert usage_chunk["usage"]["completion_tokens"] == service.count_tokens(text) > 0


FOOTNOTE = re.compile(r'^\[(\d+)\] (\S+), characters (\d+)-(\d+): "(.*)"$')


def test_footnotes_quote_the_source_at_their_offsets(seed_client: TestClient) -> None:
    body = seed_client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "What does China oppose?"}]},
    ).json()
    notes = body["choices"][0]["message"]["content"].split("\n\n")[-1].splitlines()
    assert len(notes) == len(body["citations"]) > 0
    for line, citation in zip(notes, body["citations"], strict=True):
        match = FOOTNOTE.match(line)
        assert match is not None, line
        n, doc_id, start, end, excerpt = match.groups()
        assert (int(n), doc_id) == (citation["n"], SEED_DOC_ID)
        assert SEED_TEXT[int(start) : int(end)] == excerpt == citation["text"]


def test_clients_sending_qa_get_footnotes_only_when_asked(seed_client: TestClient) -> None:
    question = [{"role": "user", "content": "What does China oppose?"}]
    plain = seed_client.post("/v1/chat/completions", json={"messages": question}).json()
    aware = seed_client.post("/v1/chat/completions", json={"messages": question, "qa": {}}).json()
    asked = seed_client.post(
        "/v1/chat/completions", json={"messages": question, "qa": {"footnotes": True}}
    ).json()
    content = aware["choices"][0]["message"]["content"]
    assert "\n\n[1] " not in content
    assert plain["choices"][0]["message"]["content"].startswith(content + "\n\n[1] ")
    assert asked["choices"][0]["message"]["content"] == plain["choices"][0]["message"]["content"]
    streamed = seed_client.post(
        "/v1/chat/completions", json={"messages": question, "stream": True, "qa": {}}
    )
    chunks = [json.loads(e) for e in _events(streamed.text)[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == content


def test_footnotes_setting_off(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, seed_paths=[SEEDS], background_load=False, chat_footnotes=False
    )
    with TestClient(create_app(settings)) as client:
        body = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "What does China oppose?"}]},
        ).json()
    assert body["citations"]
    assert "\n\n[1] " not in body["choices"][0]["message"]["content"]


def test_several_choices_are_refused(seed_client: TestClient) -> None:
    response = seed_client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "What does China oppose?"}], "n": 2},
    )
    assert response.status_code == 422
    assert error_body(response)["error"] == {
        "code": "invalid_request",
        "message": "n: only n=1 is supported: answers quote the documents, so every choice "
        "would be the same",
        "field": "n",
    }


def test_abstention_has_no_citations(seed_client: TestClient) -> None:
    body = seed_client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "What is the population of Brazil?"}]},
    ).json()
    assert body["answered"] is False
    assert body["citations"] == []
    assert body["choices"][0]["message"]["content"] == "The documents do not answer this question."


def test_content_parts_are_read_as_text(seed_client: TestClient) -> None:
    body = seed_client.post(
        "/v1/chat/completions",
        json={
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What does China oppose?"}]}
            ]
        },
    ).json()
    assert "double standards and politicization" in body["citations"][0]["text"]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "at least one message is required"),
        ([{"role": "assistant", "content": "hi"}], "the last message must be the user's question"),
        ([{"role": "user", "content": "  "}], "the last message must not be empty"),
        ([{"role": "user", "content": "x" * 2001}], "the question must be at most 2000 characters"),
    ],
)
def test_invalid_messages_are_422_naming_the_field(
    seed_client: TestClient, messages: list[dict[str, str]], message: str
) -> None:
    response = seed_client.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 422
    assert error_body(response) == {
        "error": {"code": "invalid_request", "message": f"messages: {message}", "field": "messages"}
    }


def test_model_by_id(seed_client: TestClient) -> None:
    card = seed_client.get("/v1/models/qa-extractive").json()
    assert (card["id"], card["object"], card["owned_by"]) == (
        "qa-extractive",
        "model",
        "qa-service",
    )
    missing = seed_client.get("/v1/models/gpt-4")
    assert missing.status_code == 404
    assert error_body(missing)["error"] == {
        "code": "not_found",
        "message": "no model 'gpt-4'; this service offers 'qa-extractive'",
        "field": None,
    }


def test_models_lists_the_model(seed_client: TestClient) -> None:
    body = seed_client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        ("qa-extractive", "model", "qa-service")
    ]
