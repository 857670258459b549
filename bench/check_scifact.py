"""SciFact fact-check figures on one cached retrieval: a change of the verdict re-measured fast.

    python bench/check_scifact.py --index-dir /work/ev/scifact --examined /tmp/examined.npz
        [--model M.npz] [--tune] [--errors errors.jsonl]

The first run retrieves and embeds the sentences each claim examines on the index that
`qa eval-check ../shared/eval/scifact --index-dir DIR` built, and caches them (the
`bench/train_verdict_model.py` format); later runs only recompute the lexical signals, the verdict
model and the verdicts, and print the tables `qa eval-check` prints (same claims, same splits).
--errors writes each misjudged claim with its verdict and reason, for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED
from train_verdict_model import retrieved

from qa.check import CheckConfig, decide, with_probabilities
from qa.check_eval import (
    TUNING_GRID,
    load_claims,
    markdown,
    reported_subsets,
    score,
    splits,
    tune_config,
)
from qa.verdict_model import MODEL_PATH, VerdictModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=SHARED / "eval" / "scifact")
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--examined", type=Path, required=True, help="retrieval cache (.npz)")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--tune", action="store_true", help="search thresholds on ids 2 mod 4")
    parser.add_argument(
        "--grid", default="", help="tune only the thresholds whose names start so (e.g. loose)"
    )
    parser.add_argument("--errors", type=Path, help="write misjudged claims here (JSON lines)")
    args = parser.parse_args()

    from api.settings import Settings
    from api.wiring import load_embedder
    from index.snapshot import load_snapshot
    from index.store import IndexStore
    from qa.answer import Answerer
    from qa.check import FactChecker
    from qa.retrieval import Retriever

    embedder = load_embedder(Settings())
    claims = load_claims(args.scifact)
    snapshot = load_snapshot(IndexStore(args.index_dir), embedder.dimensions)
    answerer = Answerer(embedder, Retriever(embedder), Settings().answer_config())
    checker = FactChecker(answerer)
    texts = [c.text for c in claims]
    candidates, vectors = retrieved(checker, snapshot, texts, args.examined)
    model = VerdictModel.load(args.model)
    examined = [
        with_probabilities(model, text, vector, checker.weigh(snapshot, text, found, None))
        for text, found, vector in zip(texts, candidates, vectors, strict=True)
    ]
    config = CheckConfig()
    parts = splits(claims)
    if args.tune:
        tuning = parts["tune"]
        grid = {k: v for k, v in TUNING_GRID.items() if k.startswith(args.grid)}
        config = tune_config(
            [claims[i] for i in tuning], [examined[i] for i in tuning], config, grid
        )
        print(f"tuned on ids 2 mod 4: {config}")
    subsets = reported_subsets(parts, len(claims))
    reports = {
        name: score([claims[i] for i in idx], [examined[i] for i in idx], config)
        for name, idx in subsets.items()
    }
    print(markdown(reports))
    if args.errors is not None:
        with args.errors.open("w", encoding="utf-8") as out:
            for gold, found in zip(claims, examined, strict=True):
                check = decide(gold.text, 0, len(gold.text), found, config)
                if check.verdict != gold.verdict:
                    row = {
                        "id": gold.claim_id,
                        "claim": gold.text,
                        "gold": gold.verdict,
                        "verdict": check.verdict,
                        "reason": check.reason,
                        "evidence": [e.text for e in check.evidence[:1]],
                    }
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
