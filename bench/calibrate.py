"""Fit the abstention model on the staff set's tune half, a QA set and out-of-domain questions.

    python bench/calibrate.py ../shared/eval/squad2 --index-dir /tmp/squad2-index \
        --staff bench/data/staff_questions.jsonl --staff-index-dir /tmp/staff-index

Prints the fitted weights (paste them into qa/abstention.py) and the trade-off curve.
Positives are answerable questions whose best sentence holds the gold answer (for the staff
set: from the expected document); negatives are unanswerable questions and the out-of-domain
ones of bench/data/ood_questions.jsonl, asked of both collections. Only the staff set's "tune"
split is used; its "report" split measures the result (`qa eval-staff --split report`).
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
from qa.abstention import FEATURES, AbstentionModel
from qa.conversation import resolve
from qa.evaluation import contains_answer, load_queries
from qa.service import QAService
from qa.staff_eval import corpus_records, load_collection, load_questions

OOD = Path(__file__).parent / "data" / "ood_questions.jsonl"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-1, steps: int = 50
) -> np.ndarray:
    """Weights (bias last) by Newton's method with a small L2 penalty, rows weighted."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        gradient = xb.T @ (weight * (p - y)) + l2 * np.r_[w[:-1], 0]
        hessian = (xb * (weight * p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


class Rows:
    """Feature rows with their label, kind and weight in the fit."""

    def __init__(self) -> None:
        self.x: list[tuple[float, ...]] = []
        self.y: list[int] = []
        self.kinds: list[str] = []
        self.weights: list[float] = []

    def add(self, features: tuple[float, ...], label: int, kind: str, weight: float) -> None:
        self.x.append(features)
        self.y.append(label)
        self.kinds.append(kind)
        self.weights.append(weight)


def staff_service(args: argparse.Namespace, settings: Settings) -> QAService:
    spec = load_collection(args.staff.parent / "staff_collection.json")
    records = corpus_records(SHARED / "corpora" / spec.corpus, spec.corpus_ids)
    args.staff_index_dir.mkdir(parents=True, exist_ok=True)
    subset = args.staff_index_dir.parent / "staff-speeches.jsonl"
    subset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    service = load_service(
        settings, index_dir=args.staff_index_dir / "index", load_index=False, index_seeds=False
    )
    service.index_paths([*(args.staff.parent / f for f in spec.seed_files), subset], prune=True)
    return service


def add_staff(rows: Rows, service: QAService, path: Path, top_k: int, weight: float) -> None:
    for q in load_questions(path):
        if q.split != "tune":
            continue
        query = q.question
        if q.history:
            query = resolve(service.snapshot, q.question, list(q.history)).query
        evidence = service.evidence(query, top_k)
        if not evidence.candidates:
            continue
        best = evidence.candidates[0]
        if not q.answerable:
            rows.add(evidence.features, 0, "staff_unanswerable", weight)
        elif best.doc_id == q.doc_id and contains_answer(best.text, q.expect):
            rows.add(evidence.features, 1, "staff_answerable", weight)


def add_ood(rows: Rows, service: QAService, top_k: int, weight: float) -> None:
    for line in OOD.read_text(encoding="utf-8").splitlines():
        evidence = service.evidence(json.loads(line)["question"], top_k)
        if evidence.candidates:
            rows.add(evidence.features, 0, "out_of_domain", weight)


def print_curve(p: np.ndarray, kinds: np.ndarray) -> list[dict[str, float]]:
    """Print (and return) each kind's share kept or abstained at thresholds 0.1 to 0.9."""
    present = list(dict.fromkeys(kinds.tolist()))
    print("| threshold | " + " | ".join(present) + " |")
    print("|---" * (len(present) + 1) + "|")
    curve = []
    for t in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]:
        # Kept for answerable kinds, abstained for the others.
        row = {
            k: float(
                np.mean(
                    (p[kinds == k] >= t)
                    if k.split("_")[-1] == "answerable"
                    else (p[kinds == k] < t)
                )
            )
            for k in present
        }
        curve.append({"threshold": t, **row})
        print(f"| {t:.1f} | " + " | ".join(f"{row[k]:.3f}" for k in present) + " |")
    print("(answerable kinds: share kept; the others: share abstained)")
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--staff", type=Path, help="staff_questions.jsonl (its tune split)")
    parser.add_argument("--staff-index-dir", type=Path, help="where to index its collection")
    parser.add_argument("--staff-weight", type=float, default=6.0)
    parser.add_argument("--every", type=int, default=1, help="use every n-th dataset query")
    parser.add_argument(
        "--impossible-weight",
        type=float,
        default=0.25,
        help="weight of the dataset's unanswerable questions (SQuAD 2.0's are adversarial "
        "rewrites of answerable ones, unlike what staff ask)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    settings = Settings()
    service = load_service(settings, index_dir=args.index_dir, load_index=False, index_seeds=False)
    service.index_paths([args.dataset / "corpus.jsonl"])
    rows = Rows()
    for query in load_queries(args.dataset)[:: args.every]:
        evidence = service.evidence(query.text, settings.top_k)
        if not evidence.candidates:
            continue
        if query.is_impossible:
            rows.add(evidence.features, 0, "impossible", args.impossible_weight)
        elif contains_answer(evidence.candidates[0].text, query.answers):
            rows.add(evidence.features, 1, "answerable", 1.0)
        # else: answerable but the best sentence misses it: neither label is honest
    # Out-of-domain questions are few; weight them up so the model must reject them.
    add_ood(rows, service, settings.top_k, 5.0)
    if args.staff is not None:
        staff = staff_service(args, settings)
        add_staff(rows, staff, args.staff, settings.top_k, args.staff_weight)
        add_ood(rows, staff, settings.top_k, 5.0)
    x, y = np.array(rows.x), np.array(rows.y, dtype=float)
    w = fit_logistic(x, y, np.array(rows.weights))
    p = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    print("weights:", dict(zip(FEATURES, np.round(w[:-1], 3).tolist(), strict=True)))
    print("weights tuple:", tuple(np.round(w[:-1], 3).tolist()), "bias:", round(float(w[-1]), 3))
    kinds = np.array(rows.kinds)
    print("\nthe fitted model:")
    curve = print_curve(p, kinds)
    shipped = AbstentionModel()
    print("\nthe shipped model (qa/abstention.py), on the same questions:")
    print_curve(np.array([shipped.probability(tuple(f)) for f in rows.x]), kinds)
    if args.json:
        args.json.write_text(json.dumps({"weights": w.tolist(), "curve": curve}, indent=2))


if __name__ == "__main__":
    main()
