"""The shards of a sharded index read as one: vector and keyword search over every shard.

A snapshot of a sharded index (index.snapshot) numbers the shards' chunks one after another
(global row = shard's offset + its row) and answers through the same calls as one index's
FAISS and BM25: each shard is searched for the best k, the candidates gathered and the best k
of them kept; keyword scores are each shard's, computed with the collection's statistics
(index.keyword), so they are the scores one index of the same chunks gives. What a row scores
does not depend on the shard it is in; only rows of exactly equal score may come in another
order than in one index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np

from index.keyword import KeywordIndex, KeywordStatistics, bm25_idf, top_rows


class VectorPart(Protocol):
    """What a shard's vectors answer: an index.vectors.VectorIndex here, or one held by a Ray
    actor (index.shard_actors)."""

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def reconstruct(self, rows: np.ndarray) -> np.ndarray: ...

    def set_nprobe(self, nprobe: int) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def _search_later(
    part: VectorPart, queries: np.ndarray, k: int
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The part's search, started now when it can run elsewhere (search_later), else later."""
    later = getattr(part, "search_later", None)
    if later is not None:
        return cast(Callable[[], tuple[np.ndarray, np.ndarray]], later(queries, k))
    return lambda: part.search(queries, k)


def _offsets(sizes: Sequence[int]) -> np.ndarray:
    return np.cumsum([0, *sizes]).astype(np.int64)


def _by_part(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The part each global row belongs to."""
    return np.searchsorted(offsets, rows, side="right") - 1


class ShardedVectors:
    """VectorIndex's search and reconstruct over the shards' vector indexes, rows numbered
    shard after shard."""

    def __init__(self, parts: Sequence[VectorPart], dimensions: int) -> None:
        self.parts = list(parts)
        self.dimensions = dimensions
        self.offsets = _offsets([len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the k best vectors per query over all shards, best first."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        # Every shard is asked before any answer is awaited (actors search at once).
        pending = [
            (offset, _search_later(part, queries, k))
            for part, offset in zip(self.parts, self.offsets, strict=False)
            if len(part)
        ]
        score_parts, row_parts = [], []
        for offset, result in pending:
            scores, rows = result()
            score_parts.append(np.where(rows >= 0, scores, -np.inf).astype(np.float32))
            row_parts.append(np.where(rows >= 0, rows + offset, -1))
        scores, rows = np.hstack(score_parts), np.hstack(row_parts)
        # The shards' best k gathered; the best k of those are the best k of all.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given global rows, each read from its shard."""
        rows = np.asarray(rows, dtype=np.int64)
        result = np.zeros((len(rows), self.dimensions), np.float32)
        parts = _by_part(self.offsets, rows)
        for k in np.unique(parts):
            mask = parts == k
            result[mask] = self.parts[int(k)].reconstruct(rows[mask] - self.offsets[k])
        return result

    def set_nprobe(self, nprobe: int) -> None:
        """Lists each shard's IVF index scans per query."""
        for part in self.parts:
            part.set_nprobe(nprobe)

    def describe(self) -> dict[str, object]:
        """Each shard's kind of index, and the number of vectors."""
        return {"shards": [p.describe() for p in self.parts], "vectors": len(self)}


class ShardedKeywords:
    """KeywordIndex's scores and search over the shards' BM25 indexes, rows numbered shard after
    shard; idf and document frequencies are the collection's."""

    def __init__(self, parts: Sequence[KeywordIndex], statistics: KeywordStatistics) -> None:
        self.parts = list(parts)
        self.statistics = statistics
        self.size = statistics.chunks
        self.rows = sum(p.rows for p in self.parts)
        self.document_frequency: Mapping[str, int] = statistics.document_frequency
        self.offsets = _offsets([p.rows for p in self.parts])

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token in the whole collection."""
        return bm25_idf(self.document_frequency.get(term, 0), self.size)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row, each shard scoring its own."""
        if not self.parts:
            return np.zeros(0, np.float32)
        return np.concatenate([p.scores(query_tokens) for p in self.parts]).astype(np.float32)

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best rows with a positive score: each shard's best k
        gathered, the best k kept."""
        rows, scores = [], []
        for part, offset in zip(self.parts, self.offsets, strict=False):
            part_rows, part_scores = part.search(query_tokens, k)
            rows.append(part_rows + offset)
            scores.append(part_scores)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        gathered_rows, gathered = np.concatenate(rows), np.concatenate(scores)
        best, _ = top_rows(gathered, k)
        return gathered_rows[best], gathered[best]
