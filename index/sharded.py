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
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from index.keyword import KeywordMatch, KeywordStatistics, bm25_idf, top_rows


class VectorPart(Protocol):
    """What a shard's vectors answer: an index.vectors.VectorIndex here, or one held by a Ray
    actor (index.shard_actors)."""

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def reconstruct(self, rows: np.ndarray) -> np.ndarray: ...

    def set_nprobe(self, nprobe: int) -> None: ...

    def describe(self) -> dict[str, Any]: ...


class KeywordPart(Protocol):
    """What a shard's BM25 answers: an index.keyword.KeywordIndex here, or one held by a Ray
    actor (index.shard_actors), whose calls also come as NAME_later (sent now, awaited later)."""

    rows: int

    def match(
        self,
        query_tokens: Sequence[str],
        k: int,
        rows: np.ndarray,
        allowed: np.ndarray | None = None,
    ) -> KeywordMatch: ...

    def present(self, tokens: Sequence[str], rows: np.ndarray | None = None) -> list[bool]: ...

    def best(self, token: str) -> tuple[int, float]: ...


@dataclass(frozen=True)
class ServedShard:
    """Where one shard's chunk vectors, BM25 and multilingual channel vectors are answered
    (index.shard_actors); channel None: the shard has no channel."""

    vectors: VectorPart
    keywords: KeywordPart
    channel: VectorPart | None = None


def _later(part: object, name: str, *args: Any) -> Callable[[], Any]:
    """part.name(*args), sent now when the part runs elsewhere (it has NAME_later), else run
    when awaited."""
    later = getattr(part, f"{name}_later", None)
    if later is not None:
        return cast(Callable[[], Any], later(*args))
    call = getattr(part, name)
    return lambda: call(*args)


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
            (offset, _later(part, "search", queries, k))
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
        # Every shard is asked before any answer is awaited.
        pending = [
            (mask, _later(self.parts[int(k)], "reconstruct", rows[mask] - self.offsets[k]))
            for k in np.unique(parts)
            for mask in [parts == k]
        ]
        for mask, vectors in pending:
            result[mask] = vectors()
        return result

    def set_nprobe(self, nprobe: int) -> None:
        """Lists each shard's IVF index scans per query."""
        for part in self.parts:
            part.set_nprobe(nprobe)

    def describe(self) -> dict[str, object]:
        """Each shard's kind of index, and the number of vectors."""
        return {"shards": [p.describe() for p in self.parts], "vectors": len(self)}


class ShardedKeywords:
    """KeywordIndex's calls over the shards' BM25 indexes, rows numbered shard after shard;
    idf and document frequencies are the collection's (this process holds only those: each
    part scores its rows where it is held)."""

    def __init__(self, parts: Sequence[KeywordPart], statistics: KeywordStatistics) -> None:
        self.parts = list(parts)
        self.statistics = statistics
        self.size = statistics.chunks
        self.rows = sum(p.rows for p in self.parts)
        self.document_frequency: Mapping[str, int] = statistics.document_frequency
        self.offsets = _offsets([p.rows for p in self.parts])

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token in the whole collection."""
        return bm25_idf(self.document_frequency.get(term, 0), self.size)

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best rows with a positive score: each shard's best k
        gathered, the best k kept."""
        found = self.match(query_tokens, k, np.zeros(0, np.int64))
        return found.rows, found.scores

    def match(
        self,
        query_tokens: Sequence[str],
        k: int,
        rows: np.ndarray,
        allowed: np.ndarray | None = None,
    ) -> KeywordMatch:
        """KeywordIndex.match over every shard: each shard's best k (of its allowed rows)
        and its rows' scores, asked of every shard before any answer is awaited."""
        rows = np.asarray(rows, np.int64)
        at = np.zeros(len(rows), np.float32)
        of_rows = _by_part(self.offsets, rows)
        of_allowed = None if allowed is None else _by_part(self.offsets, allowed)
        pending = []
        for n, (part, offset) in enumerate(zip(self.parts, self.offsets, strict=False)):
            mine = of_rows == n
            part_allowed = None if allowed is None else allowed[of_allowed == n] - offset
            if not part.rows or (part_allowed is not None and not len(part_allowed)):
                continue  # its rows score 0 (none allowed)
            later = _later(part, "match", query_tokens, k, rows[mine] - offset, part_allowed)
            pending.append((offset, mine, later))
        best_rows, best_scores = [], []
        for offset, mine, later in pending:
            found = cast(KeywordMatch, later())
            at[mine] = found.at
            best_rows.append(found.rows + offset)
            best_scores.append(found.scores)
        if not best_rows:
            return KeywordMatch(np.zeros(0, np.int64), np.zeros(0, np.float32), at)
        gathered_rows = np.concatenate(best_rows)
        gathered = np.concatenate(best_scores).astype(np.float32)
        best, _ = top_rows(gathered, k)
        return KeywordMatch(gathered_rows[best], gathered[best], at)

    def present(self, tokens: Sequence[str], rows: np.ndarray | None = None) -> list[bool]:
        """For each token, whether a row (of `rows`, when given) of any shard holds it."""
        found = [False] * len(tokens)
        if not tokens:
            return found
        of_rows = None if rows is None else _by_part(self.offsets, np.asarray(rows, np.int64))
        pending = []
        for n, (part, offset) in enumerate(zip(self.parts, self.offsets, strict=False)):
            part_rows = None
            if rows is not None and of_rows is not None:
                part_rows = np.asarray(rows, np.int64)[of_rows == n] - offset
                if not len(part_rows):
                    continue
            if part.rows:
                pending.append(_later(part, "present", tokens, part_rows))
        for later in pending:
            found = [a or b for a, b in zip(found, cast(list[bool], later()), strict=True)]
        return found

    def best(self, token: str) -> tuple[int, float]:
        """The first of the rows scoring best for the token over all shards, and its score."""
        pending = [
            (offset, _later(part, "best", token))
            for part, offset in zip(self.parts, self.offsets, strict=False)
            if part.rows
        ]
        row, score = -1, 0.0
        for offset, later in pending:
            part_row, part_score = cast(tuple[int, float], later())
            # Strictly better only: on a tie the earlier shard's row, as one array's argmax.
            if part_row >= 0 and part_score > score:
                row, score = int(part_row + offset), part_score
        return row, score
