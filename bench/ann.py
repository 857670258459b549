"""Search latency and recall@10 of the approximate indexes (IVF) against exact search, by size.

    python bench/ann.py --sizes 10000,100000,1000000
    python bench/ann.py --index-dir /tmp/un100k/index --questions bench/data/un_questions.jsonl \
        --questions ../shared/eval/squad2/queries.jsonl --sizes 10000,100000,1000000

Vectors: with --index-dir, the real chunk vectors of an index (e.g. 105,000 UN speech chunks);
sizes beyond them are filled with SYNTHETIC vectors drawn from a Gaussian with the real ones'
mean and covariance, then normalised. Without it, everything is synthetic, modelled on the first
--real chunks of the session-79 speeches. Synthetic data has no cluster structure, which makes
IVF's job harder than on real text: recall on it is a pessimistic estimate. Queries: real
questions embedded with the model (--questions), else synthetic. One query at a time, as the
service searches. Rows: exact search, then each IVF kind (flat lists; 8-bit codes re-ranked
exactly) at several nprobe, and the spec choose_spec picks.
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
    from api.settings import Settings
    from api.wiring import load_embedder
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
    vectors = load_embedder(settings).embed_passages(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def index_vectors(index_dir: Path) -> np.ndarray:
    """Every stored chunk vector of an index, segment by segment."""
    segments = sorted((index_dir / "segments").glob("seg-*"))
    return np.vstack([np.load(seg / "vectors.npy") for seg in segments]).astype(np.float32)


def question_vectors(files: list[Path], count: int) -> np.ndarray:
    """The first `count` questions of jsonl files (fields question or text), embedded."""
    import json

    from api.settings import Settings
    from api.wiring import load_embedder

    texts: list[str] = []
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.append(record.get("question") or record["text"])
    return load_embedder(Settings()).embed_batch(texts[:count])


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
    parser.add_argument(
        "--kinds", default="ivf,ivf_sq8", help="approximate kinds: ivf (flat lists), ivf_sq8"
    )
    parser.add_argument("--index-dir", type=Path, help="use this index's real vectors")
    parser.add_argument("--questions", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    real = index_vectors(args.index_dir) if args.index_dir else real_vectors(args.real)
    rng.shuffle(real)  # a size below the real count takes a sample of all sessions
    dims = real.shape[1]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        if args.index_dir:
            base = np.vstack([real[:size], synthetic(real, max(0, size - len(real)), rng)])
        else:
            base = synthetic(real, size, rng)
        if args.questions:
            queries = question_vectors(args.questions, args.queries)
        else:
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
        probes = {max(1, round(nlist * float(share))) for share in args.nprobe_shares.split(",")}
        for kind in args.kinds.split(","):
            t0 = time.perf_counter()
            ivf = VectorIndex.build(dims, base, VectorIndexSpec(kind, nlist, 1))
            ivf_build = time.perf_counter() - t0
            for nprobe in sorted(probes | {min(nlist, chosen.nprobe)}):
                ivf.set_nprobe(nprobe)
                found, lat = timed_search(ivf, queries, 10)
                picked = (
                    " (choose_spec)"
                    if (kind, nprobe, nlist) == (chosen.kind, chosen.nprobe, chosen.nlist)
                    else ""
                )
                rows.append(
                    {
                        "vectors": size,
                        "index": f"{kind} nlist={nlist} nprobe={nprobe}{picked}",
                        "build_s": ivf_build,
                        "recall@10": recall(found, truth),
                        **{f"{k}_ms": v for k, v in percentiles(lat).items()},
                    }
                )
                print(rows[-1])
            del ivf
        del base, exact
    table = [
        [r["vectors"], r["index"], r["build_s"], r["recall@10"], r["p50_ms"], r["p95_ms"]]
        for r in rows
    ]
    source = f"{len(real)} real vectors of {args.index_dir}" if args.index_dir else "synthetic"
    asked = f"{len(queries)} questions" if args.questions else "synthetic queries"
    print(f"\n### ANN: {dims}-d, {source} (synthetic beyond), {asked}\n")
    headers = ["vectors", "index", "build s", "recall@10", "p50 ms", "p95 ms"]
    print(markdown_table(headers, table))
    print(f"\nchoose_spec picks: { {s: choose_spec(s).as_dict() for s in (10**4, 10**5, 10**6)} }")
    path = write_json("ann.json", {"machine": machine(), "rows": rows}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
