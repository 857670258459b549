"""Fit the cross-lingual abstention model (qa.crosslingual) on XQuAD's tuning half.

    python bench/calibrate_crosslingual.py --work /tmp/xl

Positives: questions of articles 00-11 asked in Chinese and Spanish over the English
paragraphs and in English over the Chinese ones, whose best sentence holds the gold answer.
Negatives: the same questions over the paragraphs of articles 12-23 only (their own article is
absent, so nothing answers them), and the out-of-domain questions of
bench/data/ood_questions.jsonl over the Chinese paragraphs. Prints the weights to paste into
CrossLingualAbstention and the trade-off at a few thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate import OOD, SHARED, fit_logistic

from api.settings import Settings
from api.wiring import load_service
from qa.evaluation import contains_answer, read_jsonl
from qa.service import QAService

XQUAD = SHARED / "eval" / "xquad-dev"
TUNE = {f"{n:02d}" for n in range(12)}
# (document language, question file)
PAIRS = (("en", "queries.zh.jsonl"), ("en", "queries.es.jsonl"), ("zh", "queries.en.jsonl"))


def article(passage_id: str) -> str:
    """The article number of a passage id `xq-AA-P`."""
    return passage_id.split("-")[1]


def service_over(work: Path, language: str, half: str) -> QAService:
    """A service over the paragraphs of one language, all articles or only 12-23."""
    folder = work / f"{language}-{half}"
    corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            json.dumps(r, ensure_ascii=False)
            for r in read_jsonl(XQUAD / language / "corpus.jsonl")
            if half == "all" or article(r["_id"]) not in TUNE
        ]
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    service = load_service(Settings(), index_dir=folder / "index", index_seeds=False)
    service.index_paths([corpus])
    return service


def signals(service: QAService, question: str) -> tuple[float, float, str] | None:
    """(channel cosine of the best sentence, its margin, its text), None if not channel-read."""
    snapshot = service.snapshot
    answerer = service.answerer
    evidence = answerer.evidence(snapshot, question, 8)
    channel = service.retriever.channel_query(snapshot, question)
    if not evidence.candidates:
        return None
    best = evidence.candidates[0]
    if not answerer.crosslingual.crossed(snapshot, channel, [best.doc_id])[0]:
        return None
    return best.similarity, best.similarity - answerer.crosslingual.unrelated(channel), best.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="Folder for the indexes.")
    parser.add_argument("--limit", type=int, default=None, help="Questions per pair.")
    args = parser.parse_args()
    x: list[tuple[float, float]] = []
    y: list[int] = []
    for language, file in PAIRS:
        full = service_over(args.work, language, "all")
        partial = service_over(args.work, language, "report")
        queries = [
            q for q in read_jsonl(XQUAD / language / file) if article(q["gold_passage"]) in TUNE
        ]
        for query in queries[: args.limit]:
            found = signals(full, query["text"])
            if found is not None and contains_answer(found[2], query["answers"]):
                x.append(found[:2])
                y.append(1)
            absent = signals(partial, query["text"])
            if absent is not None:
                x.append(absent[:2])
                y.append(0)
        if language == "zh":
            for record in read_jsonl(OOD):
                found = signals(full, record["question"])
                if found is not None:
                    x.append(found[:2])
                    y.append(0)
    xs, ys = np.array(x), np.array(y, float)
    weights = np.where(ys == 1, 0.5 / ys.mean(), 0.5 / (1 - ys.mean()))
    w = fit_logistic(xs, ys, weights)
    print(f"positives {int(ys.sum())}, negatives {int(len(ys) - ys.sum())}")
    print(f"weights=({w[0]:.3f}, {w[1]:.3f}), bias={w[2]:.3f}")
    p = 1 / (1 + np.exp(-(xs @ w[:2] + w[2])))
    for threshold in (0.1, 0.2, 0.3, 0.4, 0.5):
        kept = float((p[ys == 1] >= threshold).mean())
        refused = float((p[ys == 0] < threshold).mean())
        print(f"threshold {threshold:.1f}: answers kept {kept:.3f}, refused {refused:.3f}")


if __name__ == "__main__":
    main()
