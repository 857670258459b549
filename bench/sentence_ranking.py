"""Sweep the weights of sentence choice where the multilingual channel reads the sentences.

    python bench/sentence_ranking.py --work /tmp/sr            # XQuAD, across languages
    python bench/sentence_ranking.py --work /tmp/sr --cmrc     # CMRC 2018, Chinese on Chinese

XQuAD: the questions of every pair (zh->en, es->en, en->zh) are answered once with the
cross-lingual ranking weights at zero, each candidate's signals recorded (its score, and
qa.crosslingual's context cosine, translated share and log words); each weight triple of the
grid then re-ranks them offline. Chosen on articles 00-11 (mean top-1 over the three pairs),
reported on 12-23 too. CMRC: the term share's weight for sentences in the question's own
language (AnswerConfig.native_overlap_weight), tuned on the passages of even TRIAL number,
reported on the odd ones. Top-1 here is the first candidate's, before abstention, so it is a
little above `qa eval`'s figure.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.settings import Settings
from api.wiring import load_service
from qa.crosslingual import CrossLingual, CrossLingualRanking
from qa.evaluation import contains_answer, read_jsonl

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
XQUAD = SHARED / "eval" / "xquad-dev"
CMRC = SHARED / "eval" / "cmrc2018"
# (pair, document language, question file)
PAIRS = (
    ("zh->en", "en", "queries.zh.jsonl"),
    ("es->en", "en", "queries.es.jsonl"),
    ("en->zh", "zh", "queries.en.jsonl"),
)
GRID = list(itertools.product((0, 0.5, 1, 1.5), (0, 0.25, 0.5, 0.75, 1), (0, 0.025, 0.05, 0.075)))

# Per question: its half (True: tune) and its candidates as (score, features, holds the answer).
Rows = list[tuple[bool, list[tuple[float, float, np.ndarray, bool]]]]


def answer_rows(corpus: Path, index_dir: Path, questions: list[dict[str, Any]], tune: Any) -> Rows:
    """Each question's candidates with the signals the sweeps weigh."""
    service = load_service(Settings(), index_dir=index_dir, index_seeds=False)
    service.index_paths([corpus])
    answerer = service.answerer
    answerer.crosslingual.weights = CrossLingualRanking(0.0, 0.0, 0.0)
    recorded: dict[tuple[str, int, int], np.ndarray] = {}
    ranking = CrossLingual.ranking

    def recording(self: CrossLingual, *args: Any) -> np.ndarray:
        features = ranking(self, *args)
        recorded.update((tuple(k), f) for k, f in zip(args[2], features, strict=True))
        return features

    CrossLingual.ranking = recording  # type: ignore[method-assign,assignment]
    rows: Rows = []
    snapshot = service.snapshot
    for question in questions:
        recorded.clear()
        evidence = answerer.evidence(snapshot, question["text"], 8)
        rows.append(
            (
                tune(question),
                [
                    (
                        c.score,
                        c.overlap,
                        recorded.get((c.doc_id, c.start, c.end), np.zeros(3, np.float32)),
                        contains_answer(c.text, question["answers"]),
                    )
                    for c in evidence.candidates
                ],
            )
        )
    CrossLingual.ranking = ranking  # type: ignore[method-assign]
    return rows


def top1(rows: Rows, half: bool, rescore: Any) -> float:
    """Share of the half's questions whose best re-scored candidate holds the answer."""
    chosen = [c for t, c in rows if t == half]
    hits = sum(bool(c) and max(c, key=rescore)[3] for c in chosen)
    return hits / max(len(chosen), 1)


def xquad(work: Path) -> None:
    results: dict[str, Rows] = {}
    for pair, language, queries in PAIRS:
        questions = list(read_jsonl(XQUAD / language / queries))
        results[pair] = answer_rows(
            XQUAD / language / "corpus.jsonl",
            work / f"xquad-{language}",
            questions,
            lambda q: int(q["gold_passage"].split("-")[1]) < 12,
        )
    table = []
    for weights in GRID:
        w = np.array(weights, np.float32)

        def rescore(c: tuple[float, float, np.ndarray, bool], w: np.ndarray = w) -> float:
            return c[0] + float(c[2] @ w)

        tune = [top1(r, True, rescore) for r in results.values()]
        report = [top1(r, False, rescore) for r in results.values()]
        table.append((float(np.mean(tune)), weights, tune, report))
    table.sort(key=lambda t: -t[0])
    print("(context, translated, length): top-1 on 00-11 | 12-23, pairs", [p for p, *_ in PAIRS])
    for mean, weights, tune, report in [t for t in table if t[1] == (0, 0, 0)] + table[:8]:
        print(weights, f"{mean:.3f}", [f"{x:.3f}" for x in tune], [f"{x:.3f}" for x in report])


def cmrc(work: Path) -> None:
    config_weight = 2.5  # the score the candidates come with used the shipped weight
    questions = list(read_jsonl(CMRC / "queries.jsonl"))
    rows = answer_rows(
        CMRC / "corpus.jsonl",
        work / "cmrc",
        questions,
        lambda q: int(q["_id"].split("_")[1]) % 2 == 0,
    )
    print("native_overlap_weight: top-1 on even passages (tune) | odd (report)")
    for weight in (0.35, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):

        def rescore(c: tuple[float, float, np.ndarray, bool], weight: float = weight) -> float:
            return c[0] + (weight - config_weight) * c[1]

        print(weight, f"{top1(rows, True, rescore):.3f}", f"{top1(rows, False, rescore):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="indexes are kept here")
    parser.add_argument("--cmrc", action="store_true", help="CMRC 2018 instead of XQuAD")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.cmrc:
        cmrc(args.work)
    else:
        xquad(args.work)


if __name__ == "__main__":
    main()
