"""Chinese and Spanish questions about the (English) seed statement, through the HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SEED_DOC_ID, SEEDS

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")

# (question, a phrase of the sentence that answers it, cited first or among the citations)
ANSWERABLE = [
    ("反恐行动必须尊重什么？", "sovereignty, independence and territorial integrity", True),
    ("¿Qué debe respetar la acción antiterrorista?", "sovereignty, independence", True),
    ("国际社会应该交流什么？", "exchange intelligence and information", True),
    (
        "¿Qué debe seguir la lucha antiterrorista?",
        "purposes and principles of the UN Charter",
        False,
    ),
    ("中国反对什么？", "double standards and politicization", True),
    ("中国支持哪些机构？", "United Nations counter terrorism office", True),
]
UNANSWERABLE = ["巴西的人口是多少？", "¿Cuál es la población de Brasil?", "如何煮鸡蛋？"]


@pytest.mark.parametrize(("question", "phrase", "first"), ANSWERABLE)
def test_cites_the_english_sentence_verbatim(
    seed_client: TestClient, question: str, phrase: str, first: bool
) -> None:
    body = seed_client.post("/v1/ask", json={"question": question}).json()
    assert body["answered"] is True
    for citation in body["citations"]:
        assert SEED_TEXT[citation["start"] : citation["end"]] == citation["text"]
    cited = [c["text"] for c in body["citations"]]
    assert phrase in cited[0] if first else any(phrase in text for text in cited), cited


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_when_the_statement_does_not_answer(
    seed_client: TestClient, question: str
) -> None:
    body = seed_client.post("/v1/ask", json={"question": question}).json()
    assert body["answered"] is False
    assert body["citations"] == []
