"""The langchain retrievers, in-process and over HTTP, inside a small chain."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from api.remote import RemoteError
from api.retrievers import HttpRetriever, ServiceRetriever
from tests.conftest import SEED_DOC_ID, SEEDS, LiveServer

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
QUESTION = "What does China oppose?"


def _check(documents: list[Document]) -> None:
    assert documents
    for d in documents:
        meta = d.metadata
        assert set(meta) == {"doc_id", "start", "end", "score", "page"}
        assert meta["doc_id"] == SEED_DOC_ID
        assert meta["page"] is None  # a text file has no pages
        assert SEED_TEXT[meta["start"] : meta["end"]] == d.page_content
    assert "double standards and politicization" in documents[0].page_content
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


def _chain(retriever: ServiceRetriever | HttpRetriever) -> object:
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    join = RunnableLambda(lambda docs: "\n".join(d.page_content for d in docs))
    return (
        {"context": retriever | join, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(lambda value: value.to_string())
    )


def test_in_process_retriever_in_a_chain(seed_client: TestClient) -> None:
    service = seed_client.app.state.service  # type: ignore[attr-defined]
    retriever = ServiceRetriever(service=service, top_k=2)
    documents = retriever.invoke(QUESTION)
    assert len(documents) == 2
    _check(documents)
    text = _chain(retriever).invoke(QUESTION)  # type: ignore[attr-defined]
    assert "We must oppose double standards and politicization." in text
    assert text.endswith(f"Question: {QUESTION}")


def test_http_retriever_matches_the_in_process_one(
    live_server: LiveServer, seed_client: TestClient
) -> None:
    retriever = HttpRetriever(url=live_server.url, api_key=live_server.api_key, top_k=3)
    documents = retriever.invoke(QUESTION)
    _check(documents)
    service = seed_client.app.state.service  # type: ignore[attr-defined]
    local = ServiceRetriever(service=service, top_k=3).invoke(QUESTION)
    assert [d.metadata["start"] for d in documents] == [d.metadata["start"] for d in local]
    scoped = HttpRetriever(
        url=live_server.url, api_key=live_server.api_key, doc_ids=[SEED_DOC_ID]
    ).invoke(QUESTION)
    assert scoped[0].page_content == documents[0].page_content
    text = _chain(retriever).invoke(QUESTION)  # type: ignore[attr-defined]
    assert "We must oppose double standards and politicization." in text


def test_http_retriever_reports_the_servers_error(live_server: LiveServer) -> None:
    with pytest.raises(RemoteError, match="the API key is not valid"):
        HttpRetriever(url=live_server.url, api_key="wrong").invoke(QUESTION)
