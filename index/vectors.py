"""Dense vector search with FAISS: inner product on unit vectors, i.e. cosine similarity.

Collections up to EXACT_UP_TO vectors are searched exactly (IndexFlatIP). Above, an inverted
file (spherical k-means quantiser, inner product) scans only `nprobe` of `nlist` lists, comparing
the question with 8-bit scalar-quantised codes (`ivf_sq8`, a quarter of the bytes to read) and
re-scoring the best REFINE_FACTOR * k exactly; bench/ann.py measured recall@10 0.98 against
exact search at 13 ms p95 for a million vectors (IVF with float lists, `ivf`: 29 ms).
Which one an index uses is decided when it is published and recorded in its manifest
(`VectorIndexSpec.as_dict`), so every reader builds the same kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

# Measured with bench/ann.py on real UN chunk vectors and real questions: exact search costs
# about 0.5 ms per 10,000 vectors (14.9 ms p95 at 300,000), so up to there it stays exact; the
# whole UN General Debate corpus (~260,000 chunks) is searched exactly.
EXACT_UP_TO = 300_000
# k-means trains on at most this many sampled vectors per list: enough for stable centroids,
# and keeps training to seconds at a million vectors.
TRAIN_POINTS_PER_LIST = 40
SEED = 1234
# Lists searched: questions are not shaped like chunks, so their neighbours spread over many
# lists. On real data recall@10 was 0.91 with a quarter of the lists and 0.97 with half (100,000
# and 300,000 vectors), at half the cost of exact search.
NPROBE_SHARE = 1 / 2
NPROBE_MIN = 96
IVF_KINDS = ("ivf", "ivf_sq8")
# ivf_sq8 shortlists this many times k by its 8-bit codes, then re-scores them exactly: at a
# million vectors recall@10 was 0.98, as with float lists, in 13 ms p95 instead of 29.
REFINE_FACTOR = 4


@dataclass(frozen=True)
class VectorIndexSpec:
    """Which FAISS index: `flat` (exact), or `ivf`/`ivf_sq8` with nlist lists, nprobe searched."""

    kind: str = "flat"
    nlist: int = 0
    nprobe: int = 0

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "flat":
            return {"kind": "flat"}
        return {"kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> VectorIndexSpec:
        """Read as_dict's output; anything missing means exact search."""
        if not data or data.get("kind", "flat") == "flat":
            return cls()
        return cls(kind=str(data["kind"]), nlist=int(data["nlist"]), nprobe=int(data["nprobe"]))


def choose_spec(count: int, exact_up_to: int | None = None) -> VectorIndexSpec:
    """Exact search up to exact_up_to (EXACT_UP_TO) vectors, IVF-SQ8, sqrt(count) lists, above."""
    if count <= (EXACT_UP_TO if exact_up_to is None else exact_up_to):
        return VectorIndexSpec()
    # sqrt(count) lists keeps k-means and list assignment to seconds at a million vectors
    # (the index is rebuilt in memory whenever a new version is loaded).
    nlist = int(math.sqrt(count))
    nprobe = min(nlist, max(NPROBE_MIN, round(nlist * NPROBE_SHARE)))
    return VectorIndexSpec(kind="ivf_sq8", nlist=nlist, nprobe=nprobe)


class VectorIndex:
    """Inner-product search over rows; row i is the i-th vector added."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self.spec = VectorIndexSpec()
        self._index: Any = faiss.IndexFlatIP(dimensions)
        self._ivf: Any = None
        self._quantiser: Any = None

    @classmethod
    def build(
        cls, dimensions: int, vectors: np.ndarray, spec: VectorIndexSpec | None = None
    ) -> VectorIndex:
        """An index over vectors of the kind spec names (exact by default)."""
        index = cls(dimensions)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimensions)
        spec = spec or VectorIndexSpec()
        # Too few vectors to train the lists (e.g. after deletions): search exactly.
        if spec.kind in IVF_KINDS and len(vectors) >= spec.nlist * TRAIN_POINTS_PER_LIST:
            quantiser = faiss.IndexFlatIP(dimensions)
            ivf: Any
            if spec.kind == "ivf":
                ivf = faiss.IndexIVFFlat(
                    quantiser, dimensions, spec.nlist, faiss.METRIC_INNER_PRODUCT
                )
            else:
                ivf = faiss.IndexIVFScalarQuantizer(
                    quantiser,
                    dimensions,
                    spec.nlist,
                    faiss.ScalarQuantizer.QT_8bit,
                    faiss.METRIC_INNER_PRODUCT,
                )
            ivf.cp.spherical = True
            ivf.cp.seed = SEED
            ivf.cp.niter = 10
            ivf.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
            ivf.cp.min_points_per_centroid = 1
            sample = np.random.default_rng(SEED).choice(
                len(vectors), spec.nlist * TRAIN_POINTS_PER_LIST, replace=False
            )
            ivf.train(vectors[np.sort(sample)])
            ivf.nprobe = spec.nprobe
            index._ivf = index._index = ivf
            index.spec = spec
            if spec.kind == "ivf_sq8":
                # The 8-bit codes only shortlist: REFINE_FACTOR * k candidates are re-scored
                # with the exact vectors, which the refine index also serves reconstruct from.
                index._index = faiss.IndexRefineFlat(ivf)
                index._index.k_factor = REFINE_FACTOR
            index._quantiser = quantiser  # FAISS does not own it; keep it alive
        index.add(vectors)
        return index

    def set_nprobe(self, nprobe: int) -> None:
        """Lists an IVF index scans per query (benchmarks vary it); no effect on exact search."""
        if self._ivf is not None:
            self._ivf.nprobe = nprobe

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append unit vectors of shape (n, dimensions)."""
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            if self.spec.kind == "ivf":
                self._index.make_direct_map()  # for reconstruct

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the k best vectors per query, best first; rows are -1 past the end."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        # One question at a time is the service's case: FAISS's OpenMP threads then only contend
        # with torch's (measured 4x slower with 2 threads after model work), so use one.
        threads = faiss.omp_get_max_threads()
        if len(queries) == 1:
            faiss.omp_set_num_threads(1)
        try:
            scores, rows = self._index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores, rows

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given rows."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self._index.d), np.float32)
        # One call for all rows: row by row cost 1.1 ms for the ~190 candidates of a question.
        return np.asarray(self._index.reconstruct_batch(rows), dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """The kind of index and its size, for health checks and benchmarks."""
        return {**self.spec.as_dict(), "vectors": len(self)}
