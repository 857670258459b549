"""Fit the abstention model on a QA set with unanswerable questions plus out-of-domain ones.

    python bench/calibrate.py ../shared/eval/squad2 --index-dir /tmp/squad2-index

Prints the fitted weights (paste them into qa/abstention.py) and the precision/recall curve.
Positives are answerable questions whose gold answer is in the top-1 citation; negatives are
unanswerable questions and the out-of-domain ones in bench/data/ood_questions.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.settings import Settings
from api.wiring import load_service
from qa.abstention import FEATURES
from qa.evaluation import contains_answer, load_queries

OOD = Path(__file__).parent / "data" / "ood_questions.jsonl"


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights (bias last) by Newton's method with a small L2 penalty."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        gradient = xb.T @ (p - y) + l2 * np.r_[w[:-1], 0]
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    settings = Settings()
    service = load_service(settings, index_dir=args.index_dir, load_index=False, index_seeds=False)
    service.index_paths([args.dataset / "corpus.jsonl"])
    rows, labels, kinds = [], [], []
    for query in load_queries(args.dataset):
        evidence = service.evidence(query.text, settings.top_k)
        if not evidence.candidates:
            continue
        if query.is_impossible:
            label, kind = 0, "impossible"
        elif contains_answer(evidence.candidates[0].text, query.answers):
            label, kind = 1, "answerable"
        else:
            continue  # answerable but the best sentence misses it: neither label is honest
        rows.append(evidence.features)
        labels.append(label)
        kinds.append(kind)
    for line in OOD.read_text(encoding="utf-8").splitlines():
        evidence = service.evidence(json.loads(line)["question"], settings.top_k)
        if evidence.candidates:
            rows.append(evidence.features)
            labels.append(0)
            kinds.append("out_of_domain")
    x, y = np.array(rows), np.array(labels, dtype=float)
    # Out-of-domain questions are few; weight them up so the model must reject them.
    repeat = np.array([10 if k == "out_of_domain" else 1 for k in kinds])
    w = fit_logistic(np.repeat(x, repeat, axis=0), np.repeat(y, repeat))
    p = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    print("weights:", dict(zip(FEATURES, np.round(w[:-1], 3).tolist(), strict=True)))
    print("bias:", round(float(w[-1]), 3))
    print("\n| threshold | answerable kept | unanswerable abstained | out-of-domain abstained |")
    print("|---|---|---|---|")
    curve = []
    kinds_arr = np.array(kinds)
    for t in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]:
        kept = float(np.mean(p[kinds_arr == "answerable"] >= t))
        imp = float(np.mean(p[kinds_arr == "impossible"] < t))
        ood = float(np.mean(p[kinds_arr == "out_of_domain"] < t))
        curve.append(
            {
                "threshold": t,
                "answerable_kept": kept,
                "impossible_abstained": imp,
                "ood_abstained": ood,
            }
        )
        print(f"| {t:.1f} | {kept:.3f} | {imp:.3f} | {ood:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"weights": w.tolist(), "curve": curve}, indent=2))


if __name__ == "__main__":
    main()
