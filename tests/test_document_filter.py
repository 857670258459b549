"""Asking and searching within chosen documents, and the titles uploads get."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.documents import title_from_text
from index.embedding import Embedder
from tests.conftest import SEED_DOC_ID
from tests.test_documents_api import make_client

HARBOUR = b"Mr. President,\n\nThe harbour of Ostrava Bay reopened in March. Ferries run daily.\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    client_iter = make_client(tmp_path_factory.mktemp("filter-data"), embedder)
    client = next(client_iter)
    response = client.post("/v1/documents", files=[("files", ("harbour.txt", HARBOUR))])
    assert response.status_code == 200, response.text
    yield client
    next(client_iter, None)


def test_ask_within_chosen_documents_cites_only_them(client: TestClient) -> None:
    question = {"question": "What did China support?"}
    everywhere = client.post("/v1/ask", json=question).json()
    assert everywhere["citations"][0]["doc_id"] == SEED_DOC_ID
    only = client.post("/v1/ask", json={**question, "doc_ids": ["harbour.txt"]}).json()
    assert all(c["doc_id"] == "harbour.txt" for c in only["citations"])


def test_search_within_chosen_documents(client: TestClient) -> None:
    body = {"query": "organized crime", "doc_ids": ["harbour.txt"]}
    results = client.post("/v1/search", json=body).json()["results"]
    assert results and {r["doc_id"] for r in results} == {"harbour.txt"}


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/search"])
def test_an_unknown_document_in_the_filter_is_a_404(client: TestClient, path: str) -> None:
    field = "question" if path == "/v1/ask" else "query"
    response = client.post(path, json={field: "crime", "doc_ids": ["nope.txt"]})
    assert response.status_code == 404
    assert "nope.txt" in response.json()["error"]["message"]


@pytest.mark.parametrize("doc_ids", [[], [""], ["a"] * 1001])
def test_a_malformed_filter_is_a_422(client: TestClient, doc_ids: list[str]) -> None:
    response = client.post("/v1/ask", json={"question": "crime", "doc_ids": doc_ids})
    assert response.status_code == 422


def test_a_text_file_is_titled_by_its_first_sentence_not_its_salutation(
    client: TestClient,
) -> None:
    document = client.get("/v1/documents/harbour.txt").json()
    assert document["title"] == "The harbour of Ostrava Bay reopened in March."


def test_an_upload_takes_the_title_it_is_given(tmp_path: Path, embedder: Embedder) -> None:
    for client in make_client(tmp_path / "data", embedder):
        files = [("files", ("notes.txt", b"Dear colleagues,\nThe Velm river holds trout.\n"))]
        response = client.post("/v1/documents", files=files, data={"title": "Fisheries notes"})
        assert response.status_code == 200, response.text
        assert client.get("/v1/documents/notes.txt").json()["title"] == "Fisheries notes"
        two = [*files, ("files", ("b.txt", b"Another text here."))]
        response = client.post("/v1/documents", files=two, data={"title": "One title"})
        assert response.status_code == 422


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("# Annual review\n\nThe year went well.", "Annual review"),
        ("Mr. President,\nExcellencies,\n\nWe meet today. Again.", "We meet today."),
        (
            "1.  Your Excellency, thank you.\n2.  Representing Malaysia, Mr. Lee spoke. Then",
            ("Representing Malaysia, Mr. Lee spoke."),
        ),
        (
            "Zhang Jun: adhere to multilateralism\n\nZhang Jun said.",
            ("Zhang Jun: adhere to multilateralism"),
        ),
        ("Ladies and gentlemen,\n", "fallback"),
    ],
)
def test_title_from_text(text: str, title: str) -> None:
    assert title_from_text(text, "fallback") == title
