"""langchain retrievers over the index: in-process (a QAService) or a running server (HTTP).

Each returns the passages best first as `Document`s whose text is the document's exact
`text[start:end]`, with metadata `doc_id`, `start`, `end`, `score` and `page` (PDFs; else None).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from api.remote import RemoteService
from qa.service import QAService


def _document(
    text: str, doc_id: str, start: int, end: int, score: float, page: int | None
) -> Document:
    metadata = {"doc_id": doc_id, "start": start, "end": end, "score": score, "page": page}
    return Document(page_content=text, metadata=metadata)


class ServiceRetriever(BaseRetriever):
    """Retrieves from a QAService in this process (the model and index loaded here)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: QAService
    top_k: int = Field(4, ge=1, le=50)
    doc_ids: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.service.search(query, self.top_k, self.doc_ids)
        page = self.service.page_of
        return [
            _document(h.text, h.doc_id, h.chunk.start, h.chunk.end, round(h.score, 4), page(h))
            for h in hits
        ]


class HttpRetriever(BaseRetriever):
    """Retrieves from a running service's POST /v1/search (no model loaded here)."""

    url: str = Field(description="The service, e.g. http://127.0.0.1:8000.")
    api_key: str | None = None
    top_k: int = Field(4, ge=1, le=50)
    doc_ids: list[str] | None = None
    timeout: float = 60

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        """The passages; api.remote.RemoteError when the server refuses or cannot be reached."""
        remote = RemoteService(self.url, self.api_key, self.timeout)
        results: list[dict[str, Any]] = remote.search(query, self.top_k, self.doc_ids)
        return [
            _document(r["text"], r["doc_id"], r["start"], r["end"], r["score"], r.get("page"))
            for r in results
        ]
