"""The HTTP contract: bodies, status codes and the one error shape."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.dependencies import utils as fastapi_dependencies
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring import load_service
from index.batching import BatchingEmbedder
from qa.service import QAService
from tests.conftest import SEED_DOC_ID, SEEDS, error_body

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")


def test_healthz(seed_client: TestClient) -> None:
    assert seed_client.get("/healthz").json() == {
        "status": "ok",
        "detail": None,
        "documents": None,
        "chunks": None,
        "index_version": None,
    }


def test_readyz_reports_the_loaded_index(seed_client: TestClient) -> None:
    body = seed_client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["documents"] == 1
    assert body["chunks"] == 4


def test_ask_answers_with_a_verbatim_citation(seed_client: TestClient) -> None:
    response = seed_client.post("/v1/ask", json={"question": "What agencies does China support?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answered"] is True
    first = body["citations"][0]
    assert first["n"] == 1
    assert first["doc_id"] == SEED_DOC_ID
    assert first["text"].startswith("China supports the United Nations counter terrorism office")
    assert SEED_TEXT[first["start"] : first["end"]] == first["text"]
    assert f"{first['text']}\u201d [1]" in body["answer"]


def test_ask_abstains_without_citations(seed_client: TestClient) -> None:
    body = seed_client.post("/v1/ask", json={"question": "What is the population of Brazil?"})
    assert body.json().pop("conversation_id")
    assert body.json() | {"conversation_id": None} == {
        "answer": "The documents do not answer this question.",
        "answered": False,
        "citations": [],
        "conversation_id": None,
        "removed_sentences": None,
        "corrections": [],
        "scope": [],
    }


def test_search_returns_ranked_verbatim_passages(seed_client: TestClient) -> None:
    body = seed_client.post("/v1/search", json={"query": "double standards", "top_k": 2}).json()
    results = body["results"]
    assert len(results) == 2
    assert results[0]["score"] >= results[1]["score"]
    for result in results:
        assert SEED_TEXT[result["start"] : result["end"]] == result["text"]


def test_documents_list_and_get(seed_client: TestClient) -> None:
    listed = seed_client.get("/v1/documents").json()
    assert listed == {
        "documents": [
            {
                "doc_id": SEED_DOC_ID,
                "title": SEED_TEXT.split("\n", 1)[0],
                "chars": len(SEED_TEXT),
                "chunks": 4,
            }
        ]
    }
    document = seed_client.get(f"/v1/documents/{SEED_DOC_ID}").json()
    assert document["text"] == SEED_TEXT
    assert document["metadata"] == {}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"question": ""}, 422, "invalid_request", "question"),
        ({"question": "   \n\t "}, 422, "invalid_request", "question"),
        ({"question": "x" * 2001}, 422, "invalid_request", "question"),
        ({"question": "ok?", "top_k": 0}, 422, "invalid_request", "top_k"),
        ({"question": "ok?", "top_k": 51}, 422, "invalid_request", "top_k"),
        ({"question": "ok?", "top_k": "many"}, 422, "invalid_request", "top_k"),
        ({"question": 42}, 422, "invalid_request", "question"),
        ({}, 422, "invalid_request", "question"),
    ],
)
def test_ask_rejects_bad_input_naming_the_field(
    seed_client: TestClient, body: object, status: int, code: str, field: str
) -> None:
    response = seed_client.post("/v1/ask", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")


def test_malformed_json_is_400(seed_client: TestClient) -> None:
    response = seed_client.post(
        "/v1/ask", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_body(response) == {
        "error": {
            "code": "invalid_json",
            "message": "the request body is not valid JSON",
            "field": None,
        }
    }


def test_unknown_document_is_404(seed_client: TestClient) -> None:
    response = seed_client.get("/v1/documents/nope.txt")
    assert response.status_code == 404
    assert error_body(response) == {
        "error": {
            "code": "document_not_found",
            "message": "no document with doc_id 'nope.txt'",
            "field": "doc_id",
        }
    }


def test_unexpected_failure_is_500_without_internals(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:

        def explode(question: str, top_k: int) -> None:
            raise RuntimeError("secret internal detail")

        app.state.service.ask = explode
        response = client.post("/v1/ask", json={"question": "What agencies does China support?"})
    assert response.status_code == 500
    assert error_body(response) == {
        "error": {
            "code": "internal_error",
            "message": "the service failed to handle this request",
            "field": None,
        }
    }
    assert "secret" not in response.text


def test_readyz_is_503_until_loaded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading waits for the test's signal, so the early requests surely come before it is done.
    loaded = threading.Event()

    def load_after_signal(*args: Any, **kwargs: Any) -> QAService:
        assert loaded.wait(60)
        return load_service(*args, **kwargs)

    monkeypatch.setattr("api.app.load_service", load_after_signal)
    app = create_app(settings.model_copy(update={"background_load": True}))
    with TestClient(app) as client:
        early = client.get("/readyz")
        assert early.status_code == 503
        assert early.json()["status"] == "unavailable"
        assert client.post("/v1/ask", json={"question": "hi?"}).json()["error"]["code"] == (
            "not_ready"
        )
        loaded.set()
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/healthz").status_code == 200


def test_openapi_docs_are_served(seed_client: TestClient) -> None:
    assert seed_client.get("/docs").status_code == 200
    paths = seed_client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/healthz", "/readyz"} <= set(paths)


def test_concurrent_questions_get_their_own_answers(seed_client: TestClient) -> None:
    questions = [
        "What agencies does China support?",
        "double standards",
        "What is the population of Brazil?",
        "counter terrorism",
    ] * 4
    one_by_one = {q: seed_client.post("/v1/search", json={"query": q}).json() for q in questions}
    with ThreadPoolExecutor(len(questions)) as pool:
        together = list(
            pool.map(lambda q: seed_client.post("/v1/search", json={"query": q}).json(), questions)
        )
    assert together == [one_by_one[q] for q in questions]
    embedder = seed_client.app.state.service.embedder  # type: ignore[attr-defined]
    assert isinstance(embedder, BatchingEmbedder)


def test_responses_say_how_long_the_app_took(seed_client: TestClient) -> None:
    response = seed_client.post("/v1/search", json={"query": "double standards"})
    name, duration = response.headers["server-timing"].split(";dur=")
    assert name == "app"
    assert 0 < float(duration) < 10_000
    assert "server-timing" in seed_client.get("/healthz").headers


def test_ask_says_which_correction_it_used(seed_client: TestClient) -> None:
    body = seed_client.post("/v1/ask", json={"question": "what about legislatve measures"}).json()
    assert body["corrections"] == [
        {"kind": "spelling", "source": "legislatve", "target": "legislative"}
    ]
    assert body["answered"] is True
    assert "legislative" in body["citations"][0]["text"]


def test_no_dependency_hops_to_a_worker_thread(
    seed_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI runs a plain `def` dependency on a worker thread: several such hops per request
    # held the event loop more than the answering did at concurrency 32.
    hops: list[str] = []
    hop = fastapi_dependencies.run_in_threadpool

    async def counted(call: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(call, "__name__", repr(call)))
        return await hop(call, *args, **kwargs)

    monkeypatch.setattr(fastapi_dependencies, "run_in_threadpool", counted)
    question = {"question": "Which agencies does China support?"}
    assert seed_client.post("/v1/ask", json=question).status_code == 200
    assert seed_client.post("/v1/search", json={"query": "interpol"}).status_code == 200
    assert (
        seed_client.post("/v1/check", json={"text": "China supports INTERPOL."}).status_code == 200
    )
    chat = {"model": "qa", "messages": [{"role": "user", "content": "interpol"}]}
    assert seed_client.post("/v1/chat/completions", json=chat).status_code == 200
    assert seed_client.get("/v1/documents").status_code == 200
    assert hops == []
