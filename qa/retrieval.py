"""Finding the chunks most likely to answer a query."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from index.snapshot import IndexSnapshot
from index.store import Chunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, its text, and how well it matches the query."""

    chunk: Chunk
    text: str
    score: float

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


class Retriever:
    """Dense retrieval: the query's embedding against the chunks' by cosine similarity."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_query(self, query: str) -> np.ndarray:
        """The query as a (1, dimensions) unit vector."""
        return self.embedder.embed_batch([query])

    def search(
        self,
        snapshot: IndexSnapshot,
        query: str,
        top_k: int,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The top_k chunks for query, best first."""
        if not snapshot.chunks:
            return []
        vector = self.embed_query(query) if query_vector is None else query_vector
        return [
            Hit(chunk=chunk, text=snapshot.chunk_text(chunk), score=score)
            for chunk, score in snapshot.search(vector, top_k)
        ]
