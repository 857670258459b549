"""BM25 keyword search over the chunks of a snapshot (bm25s's sparse-matrix scorer).

A shard of a sharded index scores its chunks with the statistics of the whole collection
(`KeywordStatistics`: chunk frequencies, chunks, tokens) rather than its own, so that a chunk
scores what it would in one index (per-shard IDF is the known pitfall of sharded BM25;
Elasticsearch's dfs_query_then_fetch). bm25s computes those statistics from the corpus it is
given; `_CollectionBM25` overrides the step bm25s documents as the one to override, reusing
bm25s's own scoring functions so that scores equal one index's to the bit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
from bm25s import scoring

# k1 and b as tuned for short passages (Anserini's BEIR settings); measured in README.
K1, B = 0.9, 0.4


@dataclass(frozen=True)
class KeywordStatistics:
    """What BM25 needs of a whole collection: its chunks, their tokens, each token's chunks."""

    chunks: int = 0
    tokens: int = 0
    document_frequency: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, token_lists: Iterable[Sequence[str]]) -> KeywordStatistics:
        """The statistics of these chunks' token lists."""
        chunks = tokens = 0
        frequency: Counter[str] = Counter()
        for row in token_lists:
            chunks += 1
            tokens += len(row)
            frequency.update(set(row))
        return cls(chunks, tokens, dict(frequency))

    def average_length(self) -> np.float64:
        """Tokens per chunk, as bm25s computes it (the integer sum is exact in float64)."""
        return np.float64(self.tokens) / self.chunks if self.chunks else np.float64(0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "tokens": self.tokens,
            "document_frequency": dict(sorted(self.document_frequency.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeywordStatistics:
        return cls(
            int(data["chunks"]),
            int(data["tokens"]),
            {str(t): int(n) for t, n in data["document_frequency"].items()},
        )


@dataclass(frozen=True)
class KeywordMatch:
    """A query's keyword candidates: the best rows and their scores (best first), and the
    scores of the rows asked about."""

    rows: np.ndarray
    scores: np.ndarray
    at: np.ndarray

    @property
    def top(self) -> float:
        """The best score of any row (0.0 when none scores)."""
        return float(self.scores[0]) if len(self.scores) else 0.0


class _CollectionBM25(bm25s.BM25):
    """bm25s scoring these chunks with a whole collection's statistics."""

    def __init__(self, statistics: KeywordStatistics, vocabulary: dict[str, int]) -> None:
        super().__init__(k1=K1, b=B)
        self.statistics = statistics
        self.vocabulary = vocabulary

    def build_index_from_ids(
        self,
        unique_token_ids: list[int],
        corpus_token_ids: list[list[int]],
        show_progress: bool = True,
        leave_progress: bool = False,
    ) -> dict[str, Any]:
        stats = self.statistics
        by_id = {i: token for token, i in self.vocabulary.items()}
        # Sizes the score arrays: one entry per (chunk, distinct token) of these chunks.
        local = scoring._calculate_doc_freqs(corpus_token_ids, unique_token_ids, False)
        collection = {i: stats.document_frequency.get(by_id[i], 0) for i in unique_token_ids}
        idf = scoring._build_idf_array(
            collection, stats.chunks, scoring._select_idf_scorer(self.idf_method), self.dtype
        )
        data, rows, columns = scoring._build_scores_and_indices_for_matrix(
            corpus_token_ids=corpus_token_ids,
            idf_array=idf,
            avg_doc_len=stats.average_length(),
            doc_frequencies=local,
            k1=self.k1,
            b=self.b,
            delta=self.delta,
            nonoccurrence_array=None,
            method=self.method,
            dtype=self.dtype,
            int_dtype=self.int_dtype,
            show_progress=False,
        )
        shape = (len(corpus_token_ids), len(unique_token_ids))
        data, indices, indptr = self._np_csc(data=data, rows=rows, cols=columns, shape=shape)
        self.nonoccurrence_array = None
        return {
            "data": data.astype(self.dtype),
            "indices": indices,
            "indptr": indptr,
            "num_docs": len(corpus_token_ids),
        }


class KeywordIndex:
    """BM25 over token lists; row i is the i-th token list given.

    statistics: the whole collection's, when these rows are one shard of it (else their own).
    """

    def __init__(
        self,
        token_lists: Sequence[Sequence[str]],
        statistics: KeywordStatistics | None = None,
    ) -> None:
        self.rows = len(token_lists)
        local: Counter[str] = Counter()
        for tokens in token_lists:
            local.update(set(tokens))
        self._local = local
        self.statistics = statistics
        # What idf and the question's known words are computed from: the collection's.
        self.size = statistics.chunks if statistics is not None else self.rows
        self.document_frequency: Mapping[str, int] = (
            statistics.document_frequency if statistics is not None else local
        )
        # Chunks may have no keyword token at all ("!!! ???"): such an index is valid and
        # scores nothing (bm25s cannot index an empty vocabulary).
        self._bm25: bm25s.BM25 = bm25s.BM25(k1=K1, b=B)
        if local and statistics is not None:
            vocabulary = {token: i for i, token in enumerate(dict.fromkeys(_flat(token_lists)))}
            self._bm25 = _CollectionBM25(statistics, vocabulary)
            ids = [[vocabulary[t] for t in tokens] for tokens in token_lists]
            self._bm25.index((ids, vocabulary), show_progress=False)
        elif local:
            self._bm25.index([list(t) for t in token_lists], show_progress=False)

    def array_bytes(self) -> int:
        """The bytes of bm25s's score matrix (data, indices, indptr)."""
        scores = getattr(self._bm25, "scores", None) or {}
        return sum(int(a.nbytes) for a in scores.values() if isinstance(a, np.ndarray))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (BM25's form, always positive)."""
        return bm25_idf(self.document_frequency.get(term, 0), self.size)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row for the query."""
        # Words of other shards only add 0 to these rows: leaving them out changes no score.
        known = [t for t in query_tokens if t in self._local]
        if not known:
            return np.zeros(self.rows, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best rows with a positive score, best first."""
        return top_rows(self.scores(query_tokens), k)

    def match(
        self,
        query_tokens: Sequence[str],
        k: int,
        rows: np.ndarray,
        allowed: np.ndarray | None = None,
    ) -> KeywordMatch:
        """The k best rows with a positive score and the scores of `rows`, only rows of
        `allowed` scoring when given (one scoring of the query for both)."""
        scores = self.scores(query_tokens)
        if allowed is not None:
            mask = np.zeros(len(scores), bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0).astype(np.float32)
        best, best_scores = top_rows(scores, k)
        return KeywordMatch(best, best_scores, scores[np.asarray(rows, np.int64)])

    def present(self, tokens: Sequence[str], rows: np.ndarray | None = None) -> list[bool]:
        """For each token, whether a row (of `rows`, when given) holds it."""
        found = []
        for token in tokens:
            if rows is None or token not in self._local:
                # A row holding a token scores above 0 for it (BM25's idf is positive).
                found.append(token in self._local)
                continue
            scores = self.scores([token])[np.asarray(rows, np.int64)]
            found.append(bool(len(scores)) and float(scores.max()) > 0)
        return found

    def best(self, token: str) -> tuple[int, float]:
        """The first of the rows scoring best for the token, and its score; (-1, 0.0) when no
        row holds it."""
        scores = self.scores([token])
        if not len(scores) or float(scores.max()) <= 0:
            return -1, 0.0
        row = int(scores.argmax())
        return row, float(scores[row])


def bm25_idf(frequency: int, chunks: int) -> float:
    """BM25's inverse document frequency of a token in `frequency` of `chunks` chunks."""
    return math.log(1.0 + (chunks - frequency + 0.5) / (frequency + 0.5))


def _flat(token_lists: Sequence[Sequence[str]]) -> Iterable[str]:
    for tokens in token_lists:
        yield from tokens


def top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the k best positive scores, best first."""
    k = min(k, int(np.count_nonzero(scores)))
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return rows.astype(np.int64), scores[rows]
