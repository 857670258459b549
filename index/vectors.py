"""Dense vector search with FAISS: inner product on unit vectors, i.e. cosine similarity."""

from __future__ import annotations

import faiss
import numpy as np


class VectorIndex:
    """Exact inner-product search over rows; row i is the i-th vector added."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._index = faiss.IndexFlatIP(dimensions)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append unit vectors of shape (n, dimensions)."""
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the k best vectors per query, best first; rows are -1 past the end."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, rows = self._index.search(queries, k)
        return scores, rows

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given rows."""
        return np.vstack([self._index.reconstruct(int(r)) for r in rows]).astype(np.float32)
