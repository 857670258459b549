"""Question embedding: one dedicated thread vs a thread pool vs micro-batches, by torch threads.

    python bench/threads.py --torch-threads 1,2

The service runs the model on one dedicated thread that embeds the questions of concurrent
requests together (index/batching.py BatchingEmbedder). This compares, on the same questions in
one process: one question at a time on one thread, the same questions from a pool of 4 threads
calling the model at once, fixed batches of 8 questions per model call (the best batching can
do at 8 waiting), and BatchingEmbedder fed by 8 concurrent callers (what the service does).
Figures: questions per second and the latency of one question (for fixed batches, the time of
its batch).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, SHARED, machine, markdown_table, percentiles, write_json

sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import json

    import torch

    from index.batching import BatchingEmbedder
    from index.embedding import SentenceTransformerEmbedder

    lines = (SHARED / "eval" / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()] * args.repeats
    embedder = SentenceTransformerEmbedder()
    rows = []
    for threads in [int(t) for t in args.torch_threads.split(",")]:
        torch.set_num_threads(threads)
        embedder.embed_batch(questions[:8])  # warm-up

        def one(q: str) -> float:
            t0 = time.perf_counter()
            embedder.embed_batch([q])
            return (time.perf_counter() - t0) * 1000

        modes = {}
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1) as dedicated:
            modes["dedicated thread, one at a time"] = list(dedicated.map(one, questions))
        modes["dedicated thread, one at a time"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            modes["pool of 4 threads, concurrent"] = list(pool.map(one, questions))
        modes["pool of 4 threads, concurrent"].append(time.perf_counter() - t0)
        batch_lat = []
        t0 = time.perf_counter()
        for i in range(0, len(questions), 8):
            b0 = time.perf_counter()
            embedder.embed_batch(questions[i : i + 8])
            batch_lat += [(time.perf_counter() - b0) * 1000] * len(questions[i : i + 8])
        modes["fixed batches of 8"] = [*batch_lat, time.perf_counter() - t0]
        batching = BatchingEmbedder(embedder, max_batch=32)

        def batched(q: str, batching: BatchingEmbedder = batching) -> float:
            t0 = time.perf_counter()
            batching.embed_batch([q])
            return (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as callers:
            mode = "BatchingEmbedder, 8 concurrent callers"
            modes[mode] = list(callers.map(batched, questions))
        modes[mode].append(time.perf_counter() - t0)
        batching.close()
        for mode, values in modes.items():
            wall, lat = values[-1], values[:-1]
            rows.append(
                {
                    "torch_threads": threads,
                    "mode": mode,
                    "questions_per_s": len(lat) / wall,
                    **{f"{k}_ms": v for k, v in percentiles(lat).items()},
                }
            )
            print(rows[-1])
    table = [
        [r["torch_threads"], r["mode"], r["questions_per_s"], r["p50_ms"], r["p95_ms"]]
        for r in rows
    ]
    print("\n### Question embedding\n")
    print(markdown_table(["torch threads", "mode", "questions/s", "p50 ms", "p95 ms"], table))
    path = write_json("threads.json", {"machine": machine(), "rows": rows}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
