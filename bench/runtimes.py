"""Model runtimes side by side: torch (sentence-transformers) vs ONNX Runtime fp32 and int8.

    python bench/runtimes.py --rounds 2
    python bench/runtimes.py --configs torch:2,onnx:2,onnx:2:spin,int8:2

Each configuration runs in a fresh child process (torch's OpenMP threads and ONNX Runtime's
pools never share one), and the rounds interleave the configurations, so on a loaded machine
each sees the same load. Per configuration: the latency of one question at a time (the seed
questions), questions/s in batches of 8 (concurrent questions merged by the model thread),
SciFact abstracts/s in batches of 16 (indexing, `embed_passages`), and the lowest cosine
between its vectors and torch's over the questions and abstracts. int8 embeds questions with the
fp32 graph, as the service does (index.onnx_embedding), so only its abstracts differ from onnx.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, SHARED, machine, markdown_table, percentiles, write_json

sys.path.insert(0, str(ROOT))

DEFAULT_CONFIGS = "torch:1,torch:2,onnx:1,onnx:2,onnx:2:spin,int8:2"


def texts(abstracts: int) -> tuple[list[str], list[str]]:
    """The seed questions and the first SciFact abstracts."""
    lines = (SHARED / "eval" / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    corpus = (SHARED / "eval" / "scifact" / "corpus.jsonl").open(encoding="utf-8")
    docs = [json.loads(line) for _, line in zip(range(abstracts), corpus, strict=False)]
    return questions, [f"{d.get('title', '')}\n{d['text']}" for d in docs]


def child(config: str, repeats: int, abstracts: int, vectors_out: Path) -> dict[str, Any]:
    """One configuration, measured in this (child) process."""
    from api.settings import Settings
    from api.wiring import load_embedder

    kind, threads, *flags = config.split(":")
    cache = Path(os.environ.get("QA_MODEL_CACHE_DIR") or ROOT / "data" / "models")
    if kind == "torch":
        import torch

        settings = Settings(embed_runtime="torch", torch_threads=int(threads))
        embedder: Any = load_embedder(settings)
        torch.set_num_threads(int(threads))
    else:
        from index.onnx_embedding import OnnxEmbedder

        embedder = OnnxEmbedder(
            cache_dir=cache,
            threads=int(threads),
            quantization="int8" if kind == "int8" else "none",
            spinning="spin" in flags,
        )
    questions, docs = texts(abstracts)
    embedder.embed_batch(questions[:8])  # warm-up
    lat = []
    for _ in range(repeats):
        for q in questions:
            t0 = time.perf_counter()
            embedder.embed_batch([q])
            lat.append((time.perf_counter() - t0) * 1000)
    batch = questions * repeats
    t0 = time.perf_counter()
    for i in range(0, len(batch), 8):
        embedder.embed_batch(batch[i : i + 8])
    per_s_8 = len(batch) / (time.perf_counter() - t0)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(docs), 16):
        embedder.embed_passages(docs[i : i + 16])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    np.save(
        vectors_out, np.vstack([embedder.embed_batch(questions), embedder.embed_passages(docs)])
    )
    return {
        "config": config,
        **{f"question_{k}_ms": v for k, v in percentiles(lat).items()},
        "questions_per_s_batches_of_8": per_s_8,
        "abstracts_per_s": len(docs) / wall,
        "abstract_cpu_ms": cpu * 1000 / len(docs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="kind:threads[:spin], ...")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4, help="passes over the questions")
    parser.add_argument("--abstracts", type=int, default=96)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeats, args.abstracts, args.vectors)))
        return
    configs = args.configs.split(",")
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    vectors: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for config in configs:
                out = Path(tmp) / f"{config.replace(':', '-')}.npy"
                cmd = [sys.executable, __file__, "--child", config, "--vectors", str(out)]
                cmd += ["--repeats", str(args.repeats), "--abstracts", str(args.abstracts)]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                print(json.dumps(row))
                runs[config].append(row)
                vectors[config] = np.load(out)
    reference = next((v for c, v in vectors.items() if c.startswith("torch")), None)
    table, rows = [], []
    for config, results in runs.items():
        row = {
            key: float(np.median([r[key] for r in results]))
            for key in results[0]
            if key != "config"
        }
        row["config"] = config
        row["min_cosine_vs_torch"] = (
            float((vectors[config] * reference).sum(axis=1).min())
            if reference is not None
            else float("nan")
        )
        rows.append(row)
        table.append(
            [
                config,
                row["question_p50_ms"],
                row["question_p95_ms"],
                row["questions_per_s_batches_of_8"],
                row["abstracts_per_s"],
                row["abstract_cpu_ms"],
                f"{row['min_cosine_vs_torch']:.5f}",
            ]
        )
    headers = [
        "runtime:threads", "question p50 ms", "question p95 ms", "questions/s (batches of 8)",
        "abstracts/s (batches of 16)", "CPU ms/abstract", "min cosine vs torch",
    ]  # fmt: skip
    print(f"\n### Runtimes (median of {args.rounds} rounds, load {os.getloadavg()[0]:.1f})\n")
    print(markdown_table(headers, table))
    path = write_json("runtimes.json", {"machine": machine(), "rows": rows}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
