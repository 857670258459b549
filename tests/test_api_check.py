"""POST /v1/check: the contract, verbatim evidence and validation of the draft."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.schemas import MAX_DRAFT_CHARS, MAX_DRAFT_CLAIMS
from tests.conftest import SEED_DOC_ID, SEEDS, error_body

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")


def test_check_marks_each_sentence_with_verbatim_evidence(seed_client: TestClient) -> None:
    draft = (
        "China supports INTERPOL. Zhang Jun called for sanctions. "
        "China does not support the International Criminal Police Organization."
    )
    response = seed_client.post("/v1/check", json={"text": draft})
    assert response.status_code == 200
    claims = response.json()["claims"]
    assert [(c["text"], c["verdict"]) for c in claims] == [
        ("China supports INTERPOL.", "supported"),
        ("Zhang Jun called for sanctions.", "not_found"),
        (
            "China does not support the International Criminal Police Organization.",
            "contradicted",
        ),
    ]
    assert claims[1]["evidence"] == []
    for claim in (claims[0], claims[2]):
        assert set(claim) == {"text", "verdict", "score", "reason", "evidence"}
        first = claim["evidence"][0]
        assert set(first) == {"n", "doc_id", "text", "start", "end", "score", "page"}
        assert first["n"] == 1
        assert first["doc_id"] == SEED_DOC_ID
        assert first["text"].startswith("China supports the United Nations counter terrorism")
        assert SEED_TEXT[first["start"] : first["end"]] == first["text"]
        assert 0.0 < claim["score"] <= 1.0  # the verdict model's probability of the verdict
        assert claim["reason"]


def test_check_rejects_an_empty_text_naming_the_field(seed_client: TestClient) -> None:
    response = seed_client.post("/v1/check", json={"text": "   "})
    assert response.status_code == 422
    assert error_body(response) == {
        "error": {
            "code": "invalid_request",
            "message": "text: text must not be empty",
            "field": "text",
        }
    }


def test_check_rejects_a_missing_or_too_long_text(seed_client: TestClient) -> None:
    missing = seed_client.post("/v1/check", json={})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "text"
    long = seed_client.post("/v1/check", json={"text": "a" * (MAX_DRAFT_CHARS + 1)})
    assert long.status_code == 422
    assert long.json()["error"]["message"] == "text: text must be at most 20,000 characters"


def test_check_accepts_a_long_draft_but_not_too_many_sentences(seed_client: TestClient) -> None:
    many = " ".join(f"Claim number {i} is here." for i in range(MAX_DRAFT_CLAIMS + 1))
    assert len(many) <= MAX_DRAFT_CHARS
    response = seed_client.post("/v1/check", json={"text": many})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "text: text must have at most 200 sentences"


def test_check_of_text_without_content_words_has_no_claims(seed_client: TestClient) -> None:
    response = seed_client.post("/v1/check", json={"text": "So it is."})
    assert response.status_code == 200
    assert response.json() == {"claims": []}
