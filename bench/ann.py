"""Search latency and recall@10 of the approximate index (IVF) against exact search, by size.

    python bench/ann.py --sizes 10000,100000,1000000

Vectors: the UN corpus gives only a few thousand real chunk vectors in reasonable time on this
machine, so larger sets are SYNTHETIC: drawn from a Gaussian with the mean and covariance of
real MiniLM chunk vectors (first --real chunks of the session-79 speeches, embedded once and
cached in bench/results/), then normalised. Such data has no cluster structure, which makes IVF's
job harder than on real text: recall here is a pessimistic estimate. Queries are drawn the same
way. One query at a time, as the service searches.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from common import RESULTS, ROOT, SHARED, machine, markdown_table, percentiles, write_json

sys.path.insert(0, str(ROOT))

from index.vectors import VectorIndex, VectorIndexSpec, choose_spec


def real_vectors(count: int) -> np.ndarray:
    """MiniLM vectors of the first `count` chunks of the session-79 speeches (cached)."""
    cache = RESULTS / f"real-vectors-{count}.npy"
    if cache.exists():
        return np.load(cache)
    from api.app import load_embedder
    from api.settings import Settings
    from index.build import embedding_text
    from index.chunking import chunk_text
    from index.documents import iter_documents

    settings = Settings()
    chunking = settings.chunking()
    corpus = [SHARED / "corpora" / "ungdc-session79-2024.jsonl"]
    texts = list(
        itertools.islice(
            (
                embedding_text(d.title, d.text[s.start : s.end], s.start)
                for d in iter_documents(corpus)
                for s in chunk_text(d.text, chunking.chunk_size, chunking.overlap)
            ),
            count,
        )
    )
    vectors = load_embedder(settings).embed_batch(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def synthetic(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors from a Gaussian with the real vectors' mean and covariance."""
    mean = real.mean(axis=0)
    values, vecs = np.linalg.eigh(np.cov(real, rowvar=False))
    transform = (vecs * np.sqrt(np.clip(values, 0, None))).T.astype(np.float32)
    out = np.empty((count, real.shape[1]), np.float32)
    for i in range(0, count, 100_000):
        n = min(100_000, count - i)
        z = rng.standard_normal((n, real.shape[1]), dtype=np.float32)
        block = z @ transform + mean
        out[i : i + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, list]:
    rows, lat = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, r = index.search(q[None, :], k)
        lat.append((time.perf_counter() - t0) * 1000)
        rows.append(r[0])
    return np.vstack(rows), lat


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--real", type=int, default=1500, help="real chunk vectors to model")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--nprobe-shares", default="0.0625,0.125,0.25")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    real = real_vectors(args.real)
    dims = real.shape[1]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        base = synthetic(real, size, rng)
        queries = synthetic(real, args.queries, rng)
        t0 = time.perf_counter()
        exact = VectorIndex.build(dims, base)
        exact_build = time.perf_counter() - t0
        truth, lat = timed_search(exact, queries, 10)
        rows.append(
            {
                "vectors": size,
                "index": "flat (exact)",
                "build_s": exact_build,
                "recall@10": 1.0,
                **{f"{k}_ms": v for k, v in percentiles(lat).items()},
            }
        )
        print(rows[-1])
        chosen = choose_spec(size, exact_up_to=0)
        nlist = min(chosen.nlist, size // 40)
        t0 = time.perf_counter()
        ivf = VectorIndex.build(dims, base, VectorIndexSpec("ivf", nlist, 1))
        ivf_build = time.perf_counter() - t0
        for share in [float(s) for s in args.nprobe_shares.split(",")]:
            nprobe = max(1, round(nlist * share))
            ivf._index.nprobe = nprobe
            found, lat = timed_search(ivf, queries, 10)
            rows.append(
                {
                    "vectors": size,
                    "index": f"ivf nlist={nlist} nprobe={nprobe}",
                    "build_s": ivf_build,
                    "recall@10": recall(found, truth),
                    **{f"{k}_ms": v for k, v in percentiles(lat).items()},
                }
            )
            print(rows[-1])
        del base, exact, ivf
    table = [
        [r["vectors"], r["index"], r["build_s"], r["recall@10"], r["p50_ms"], r["p95_ms"]]
        for r in rows
    ]
    print(f"\n### ANN: {dims}-d synthetic vectors modelled on {len(real)} real ones\n")
    headers = ["vectors", "index", "build s", "recall@10", "p50 ms", "p95 ms"]
    print(markdown_table(headers, table))
    print(f"\nchoose_spec picks: { {s: choose_spec(s).as_dict() for s in (10**4, 10**5, 10**6)} }")
    path = write_json("ann.json", {"machine": machine(), "rows": rows}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
