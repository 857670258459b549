"""Conversations over HTTP: follow-ups through /v1/ask, reading, deleting, surviving a restart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import SEED_DOC_ID, SEEDS, error_body

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
FIRST = "What agencies does China support?"
FOLLOW_UP = "What should they strengthen coordination with?"


def test_a_follow_up_is_answered_in_its_conversation(seed_client: TestClient) -> None:
    first = seed_client.post("/v1/ask", json={"question": FIRST}).json()
    conversation_id = first["conversation_id"]
    second = seed_client.post(
        "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": conversation_id}
    ).json()
    assert second["conversation_id"] == conversation_id
    assert second["answered"] is True
    top = second["citations"][0]
    assert "strengthen coordination with regional organizations" in top["text"]
    assert SEED_TEXT[top["start"] : top["end"]] == top["text"]

    stored = seed_client.get(f"/v1/conversations/{conversation_id}").json()
    assert stored["conversation_id"] == conversation_id
    assert [(t["n"], t["question"], t["query"]) for t in stored["turns"]] == [
        (1, FIRST, FIRST),
        (2, FOLLOW_UP, f"{FOLLOW_UP} agencies China support"),
    ]
    assert stored["turns"][1]["citations"] == second["citations"]
    assert stored["turns"][1]["answer"] == second["answer"]


def test_without_a_conversation_the_same_words_find_another_sentence(
    seed_client: TestClient,
) -> None:
    body = seed_client.post("/v1/ask", json={"question": FOLLOW_UP}).json()
    assert "regional organizations" not in body["citations"][0]["text"]


def test_delete_then_get_is_404(seed_client: TestClient) -> None:
    conversation_id = seed_client.post("/v1/ask", json={"question": FIRST}).json()[
        "conversation_id"
    ]
    deleted = seed_client.delete(f"/v1/conversations/{conversation_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    missing = seed_client.get(f"/v1/conversations/{conversation_id}")
    assert missing.status_code == 404
    assert error_body(missing) == {
        "error": {
            "code": "conversation_not_found",
            "message": f"no conversation with id '{conversation_id}'",
            "field": "conversation_id",
        }
    }
    assert seed_client.delete(f"/v1/conversations/{conversation_id}").status_code == 404


def test_asking_in_an_unknown_or_malformed_conversation(seed_client: TestClient) -> None:
    unknown = seed_client.post(
        "/v1/ask",
        json={"question": FIRST, "conversation_id": "8c5e2a1e-6f39-4f7e-9d7e-2f1b0f7d1c11"},
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "conversation_not_found"
    malformed = seed_client.post("/v1/ask", json={"question": FIRST, "conversation_id": "x"})
    assert malformed.status_code == 422
    assert error_body(malformed)["error"] == {
        "code": "invalid_request",
        "message": "conversation_id must be an id returned by the service",
        "field": "conversation_id",
    }


def test_a_restart_keeps_conversations(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        first = client.post("/v1/ask", json={"question": FIRST}).json()
    assert (settings.data_dir / "conversations.db").is_file()
    with TestClient(create_app(settings)) as client:
        conversation_id = first["conversation_id"]
        second = client.post(
            "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": conversation_id}
        ).json()
        assert "regional organizations" in second["citations"][0]["text"]
        turns = client.get(f"/v1/conversations/{conversation_id}").json()["turns"]
    assert [t["question"] for t in turns] == [FIRST, FOLLOW_UP]
