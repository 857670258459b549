"""BM25 keyword search over the chunks of a snapshot (bm25s's sparse-matrix scorer)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np


class KeywordIndex:
    """BM25 over token lists; row i is the i-th token list given."""

    def __init__(self, token_lists: Sequence[Sequence[str]]) -> None:
        self.size = len(token_lists)
        self.document_frequency: Counter[str] = Counter()
        for tokens in token_lists:
            self.document_frequency.update(set(tokens))
        # k1 and b as tuned for short passages (Anserini's BEIR settings); measured in README.
        self._bm25 = bm25s.BM25(k1=0.9, b=0.4)
        # Chunks may have no keyword token at all ("!!! ???"): such an index is valid and
        # scores nothing (bm25s cannot index an empty vocabulary).
        if self.document_frequency:
            self._bm25.index([list(t) for t in token_lists], show_progress=False)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (BM25's form, always positive)."""
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row for the query."""
        known = [t for t in query_tokens if t in self.document_frequency]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best rows with a positive score, best first."""
        return top_rows(self.scores(query_tokens), k)


def top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the k best positive scores, best first."""
    k = min(k, int(np.count_nonzero(scores)))
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return rows.astype(np.int64), scores[rows]
