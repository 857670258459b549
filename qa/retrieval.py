"""Finding the chunks most likely to answer a query: dense, keyword, or both fused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.embedding import Embedder
from index.keyword import top_rows
from index.snapshot import IndexSnapshot
from index.store import Chunk
from index.text import tokenize

Fusion = Literal["dense", "keyword", "rrf", "convex"]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, its text, and how well it matches the query."""

    chunk: Chunk
    text: str
    score: float
    dense: float = 0.0
    keyword: float = 0.0

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class RetrievalConfig:
    """How dense and keyword results are combined."""

    fusion: Fusion = "convex"
    # Weight of the dense cosine in the convex mix; BM25 gets the rest, scaled by the query's best.
    # 0.7 was best on scifact train (README, Quality).
    dense_weight: float = 0.7
    # Candidates drawn from each list before fusion.
    depth: int = 100
    rrf_k: int = 60


class Retriever:
    """Hybrid retrieval: MiniLM cosine and BM25, fused into one ranking."""

    def __init__(self, embedder: Embedder, config: RetrievalConfig | None = None) -> None:
        self.embedder = embedder
        self.config = config or RetrievalConfig()

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
        config = self.config
        depth = max(config.depth, top_k)
        candidates: dict[int, None] = {}
        dense_rank: dict[int, int] = {}
        keyword_rank: dict[int, int] = {}
        if config.fusion != "keyword":
            vector = self.embed_query(query) if query_vector is None else query_vector
            _, rows = snapshot.vectors.search(vector, depth)
            for rank, row in enumerate(int(r) for r in rows[0] if r >= 0):
                dense_rank[row] = rank
                candidates[row] = None
        else:
            vector = None
        query_tokens = tokenize(query)
        keyword_scores = snapshot.keywords.scores(query_tokens)
        if config.fusion != "dense":
            rows_k, _ = top_rows(keyword_scores, depth)
            for rank, row in enumerate(int(r) for r in rows_k):
                keyword_rank[row] = rank
                candidates[row] = None
        rows = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        if not len(rows):
            return []
        dense = (
            snapshot.vectors.reconstruct(rows) @ vector[0]
            if vector is not None
            else np.zeros(len(rows), np.float32)
        )
        keyword = keyword_scores[rows]
        fused = self._fuse(rows, dense, keyword, keyword_scores, dense_rank, keyword_rank)
        order = np.argsort(-fused, kind="stable")[:top_k]
        return [
            Hit(
                chunk=snapshot.chunks[int(rows[i])],
                text=snapshot.chunk_text(snapshot.chunks[int(rows[i])]),
                score=float(fused[i]),
                dense=float(dense[i]),
                keyword=float(keyword[i]),
            )
            for i in order
        ]

    def _fuse(
        self,
        rows: np.ndarray,
        dense: np.ndarray,
        keyword: np.ndarray,
        all_keyword: np.ndarray,
        dense_rank: dict[int, int],
        keyword_rank: dict[int, int],
    ) -> np.ndarray:
        config = self.config
        if config.fusion == "dense":
            return dense
        if config.fusion == "keyword":
            return keyword
        if config.fusion == "rrf":
            missing = 10**9
            return np.array(
                [
                    1.0 / (config.rrf_k + dense_rank.get(int(r), missing))
                    + 1.0 / (config.rrf_k + keyword_rank.get(int(r), missing))
                    for r in rows
                ]
            )
        # BM25 is unbounded: scale by the best score for this query so both lie in [0, 1].
        top = float(all_keyword.max()) if len(all_keyword) else 0.0
        scaled = keyword / top if top > 0 else np.zeros_like(keyword)
        return config.dense_weight * dense + (1.0 - config.dense_weight) * scaled
