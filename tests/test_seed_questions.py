"""Every question of ../shared/eval/seed_qa.jsonl through the HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SEED_DOC_ID, SEEDS, seed_questions

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")


def _cases() -> list[object]:
    cases = []
    for q in seed_questions():
        cases.append(pytest.param(q, id=str(q["id"])))
    return cases


@pytest.mark.parametrize("case", _cases())
def test_seed_question(seed_client: TestClient, case: dict[str, object]) -> None:
    body = seed_client.post("/v1/ask", json={"question": case["question"]}).json()
    for citation in body["citations"]:
        assert SEED_TEXT[citation["start"] : citation["end"]] == citation["text"]
    if case["kind"] == "unanswerable":
        assert body["answered"] is False
        assert body["citations"] == []
        return
    assert body["answered"] is True
    expected = case["expect"]
    assert isinstance(expected, list)
    top1 = body["citations"][0]["text"]
    assert any(phrase in top1 for phrase in expected), top1
