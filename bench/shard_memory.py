"""Memory of a sharded index served by shard actors (`qa serve --distributed`) and by one process.

    python bench/shard_memory.py --index /work/ev/i20/data500/index
    python bench/shard_memory.py --index INDEX --latency 200    # quiet machine only

Each mode runs in a child process that loads the service as `qa serve` does (the configured
model and multilingual channel) and reads its resident memory (VmRSS) before and after reading
the index, so the difference is the index's: one process holds everything; distributed (a
local Ray), the serving process holds chunks, texts, sentence vectors and the BM25 statistics,
and each shard's actor its vectors, BM25 and channel vectors, whose memory is its VmRSS less that of
an idle actor importing the same modules. A few questions are asked first (answers equal
between the modes are checked). The IVF-SQ8 size is FAISS's serialized index of the shard's
vectors (what `choose_spec` gives above 300,000 chunks), built here.

--latency N also times, over N questions (sequential, one at a time): each shard actor's dense
search and keyword match, the same over every shard through index.sharded (the gather cost is
its excess over the slowest shard alone), and a whole retrieval (service.search) in each mode.
Latency is for a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, machine, markdown_table, percentiles, write_json

QUESTIONS = [
    "What did the speakers say about climate change?",
    "Which countries called for reform of the Security Council?",
    "How should the international community respond to terrorism?",
    "What was said about nuclear disarmament?",
    "Who spoke about the situation in the Middle East?",
    "What are the views on sustainable development goals?",
    "How do small island states describe rising sea levels?",
    "What did delegations say about the debt of developing countries?",
]
MB = 1024 * 1024


def rss() -> int:
    """This process's resident memory, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child(index: Path, mode: str, latency: int) -> dict[str, Any]:
    """One mode's figures (run in a process of its own)."""
    from api.settings import Settings
    from api.wiring import load_service

    settings = Settings(index_dir=index, seed_paths=[], serve_distributed=mode == "distributed")
    service = load_service(settings, load_index=False, index_seeds=False)
    before = rss()
    snapshot = service.snapshot
    loaded = rss()
    answers = [[(h.doc_id, h.chunk.start, h.score) for h in service.search(q)] for q in QUESTIONS]
    result: dict[str, Any] = {
        "mode": mode,
        "chunks": len(snapshot.chunks),
        "documents": len(snapshot.documents),
        "process_before_index_mb": before / MB,
        "process_index_mb": (loaded - before) / MB,
        "process_after_questions_mb": rss() / MB,
        "answers": answers,
    }
    if mode == "distributed":
        result.update(_actors(service))
    if latency:
        result["latency"] = _latency(service, latency)
    service.close()
    return result


def _actors(service: Any) -> dict[str, Any]:
    import ray

    from index.shard_actors import ACTOR_CPUS

    class Idle:
        """An actor importing what a shard actor imports, holding nothing."""

        def __init__(self) -> None:
            import index.shard_actors  # noqa: F401

        def rss(self) -> int:
            return rss()

    idle: Any = ray.remote(Idle).options(num_cpus=ACTOR_CPUS).remote()
    idle_rss = int(ray.get(idle.rss.remote()))
    ray.kill(idle)
    shards = []
    for part, shard in zip(service.snapshot.vectors.parts, service.snapshot.shards, strict=True):
        actor = getattr(part, "actor", None)
        if actor is None:
            continue
        footprint = ray.get(actor.footprint.remote())
        stored = ray.get(actor.reconstruct.remote(np.arange(len(shard.chunks))))
        shards.append(
            {
                "chunks": len(shard.chunks),
                "actor_rss_mb": footprint["rss"] / MB,
                "actor_index_mb": (footprint["rss"] - idle_rss) / MB,
                "flat_vectors_mb": footprint["flat_vectors"] / MB,
                "channel_vectors_mb": footprint["channel_vectors"] / MB,
                "bm25_arrays_mb": footprint["keywords"] / MB,
                "keyword_indexes": footprint["keyword_indexes"],
                "ivf_sq8_mb": _ivf_sq8_bytes(stored) / MB,
            }
        )
    return {"idle_actor_rss_mb": idle_rss / MB, "shards": shards}


def _ivf_sq8_bytes(vectors: np.ndarray) -> int:
    import faiss

    from index.vectors import VectorIndex, choose_spec

    spec = choose_spec(max(len(vectors), 1), exact_up_to=0)
    index = VectorIndex.build(vectors.shape[1], vectors, spec)
    return int(faiss.serialize_index(index._index).nbytes)


def _latency(service: Any, count: int) -> dict[str, Any]:
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(count)]
    snapshot = service.snapshot
    retriever = service.retriever
    figures: dict[str, Any] = {}
    timings = []
    for q in questions:
        started = time.perf_counter()
        service.search(q)
        timings.append((time.perf_counter() - started) * 1000)
    figures["search_ms"] = percentiles(timings)
    if not snapshot.shards:
        return figures
    import ray

    from index.sharded import ShardedKeywords, ShardedVectors
    from index.text import tokenize

    vectors: ShardedVectors = snapshot.vectors
    keywords: ShardedKeywords = snapshot.keywords
    depth = retriever.config.depth
    shard_ms: list[dict[str, Any]] = []
    for n, part in enumerate(vectors.parts):
        actor = getattr(part, "actor", None)
        if actor is None:
            continue
        dense, keyword = [], []
        for q in questions:
            vector = retriever.embed_query(q)
            started = time.perf_counter()
            ray.get(actor.search.remote(vector, depth))
            dense.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            keywords.parts[n].match(tokenize(q), depth, np.zeros(0, np.int64))
            keyword.append((time.perf_counter() - started) * 1000)
        shard_ms.append(
            {"shard": n, "dense_ms": percentiles(dense), "keyword_ms": percentiles(keyword)}
        )
    gathered_dense, gathered_keyword = [], []
    for q in questions:
        vector = retriever.embed_query(q)
        started = time.perf_counter()
        vectors.search(vector, depth)
        gathered_dense.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        keywords.match(tokenize(q), depth, np.zeros(0, np.int64))
        gathered_keyword.append((time.perf_counter() - started) * 1000)
    figures.update(
        shards=shard_ms,
        gathered_dense_ms=percentiles(gathered_dense),
        gathered_keyword_ms=percentiles(gathered_keyword),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="a sharded index folder")
    parser.add_argument("--latency", type=int, default=0, help="questions to time (quiet machine)")
    parser.add_argument("--mode", choices=["one", "distributed"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(child(args.index, args.mode, args.latency)))
        return
    load_before = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {}
    for mode in ("one", "distributed"):
        command = [sys.executable, __file__, "--index", str(args.index), "--mode", mode,
                   "--latency", str(args.latency)]  # fmt: skip
        out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    one, spread = results["one"], results["distributed"]
    per_100k = 100_000 / max(one["chunks"], 1)
    print(
        f"{one['documents']} documents, {one['chunks']} chunks, {len(spread['shards'])} shards; "
        f"answers equal: {one['answers'] == spread['answers']}; "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    rows = [
        ["one process: index", f"{one['process_index_mb']:.0f}",
         f"{one['process_index_mb'] * per_100k:.0f}"],
        ["distributed: serving process's index", f"{spread['process_index_mb']:.0f}",
         f"{spread['process_index_mb'] * per_100k:.0f}"],
    ]  # fmt: skip
    for shard in spread["shards"]:
        scale = 100_000 / max(shard["chunks"], 1)
        flat, channel, ivf, bm25 = (
            shard[k]
            for k in ("flat_vectors_mb", "channel_vectors_mb", "ivf_sq8_mb", "bm25_arrays_mb")
        )
        rows.append(
            [
                f"shard actor ({shard['chunks']} chunks): RSS {shard['actor_rss_mb']:.0f} - idle "
                f"{spread['idle_actor_rss_mb']:.0f}; flat vectors {flat:.1f}, channel vectors "
                f"{channel:.1f}, BM25 arrays {bm25:.1f}, IVF-SQ8 {ivf:.1f}",
                f"{shard['actor_index_mb']:.0f}",
                f"{shard['actor_index_mb'] * scale:.0f} (flat {flat * scale:.0f}, channel "
                f"{channel * scale:.0f}, IVF-SQ8 {ivf * scale:.0f}, BM25 {bm25 * scale:.0f})",
            ]
        )
    print(markdown_table(["what", "MB", "MB per 100k chunks"], rows))
    for mode in ("one", "distributed"):
        if "latency" in results[mode]:
            print(mode, json.dumps(results[mode]["latency"], indent=1))
    for result in results.values():
        result.pop("answers")
    write_json("shard_memory.json", {"machine": machine(), **results})


if __name__ == "__main__":
    main()
