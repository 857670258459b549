"""Verdicts on a claim set of our own: false claims marked supported, paraphrases supported.

    python bench/check_claims.py tests/data/seed_claims.jsonl              # on the seed
    python bench/check_claims.py bench/data/un_claims.jsonl --un           # its 10 UN speeches

Each line of a claim set: {"id", "kind", "claim", "expected"} with kind paraphrase (expected
supported), negated, reversal or swap (false claims, expected contradicted) or absent (expected
not_found); `split` (tune/report) where the set has halves. The documents are indexed into a
temporary folder: the seed, or with --un the speeches of ungdc-session79-2024.jsonl that the
set's `doc_id`s name.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import ROOT, SHARED

sys.path.insert(0, str(ROOT))

FALSE_KINDS = ("negated", "reversal", "swap")
KINDS = ("paraphrase", *FALSE_KINDS, "absent")


def tally(rows: list[dict], verdicts: list[str]) -> dict[str, Counter[str]]:
    """Verdict counts per kind of claim."""
    table: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    for row, verdict in zip(rows, verdicts, strict=True):
        table[row["kind"]][verdict] += 1
    return table


def summary(table: dict[str, Counter[str]]) -> tuple[int, int, int, int]:
    """(false claims marked supported, false claims, paraphrases supported, paraphrases)."""
    false_supported = sum(table[k]["supported"] for k in FALSE_KINDS)
    false_total = sum(sum(table[k].values()) for k in FALSE_KINDS)
    return (
        false_supported,
        false_total,
        table["paraphrase"]["supported"],
        sum(table["paraphrase"].values()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("claims", type=Path)
    parser.add_argument("--un", action="store_true", help="index the set's UN speeches")
    parser.add_argument(
        "--corpus", type=Path, default=SHARED / "corpora" / "ungdc-session79-2024.jsonl"
    )
    parser.add_argument("--show", action="store_true", help="print every claim's verdict and why")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.claims.open(encoding="utf-8") if line.strip()]

    from api.settings import Settings
    from api.wiring import load_service

    with tempfile.TemporaryDirectory(prefix="qa-check-claims-") as folder:
        paths = [ROOT / "seeds"]
        if args.un:
            wanted = {r["doc_id"] for r in rows}
            subset = Path(folder) / "speeches.jsonl"
            with subset.open("w", encoding="utf-8") as out:
                for line in args.corpus.open(encoding="utf-8"):
                    if json.loads(line)["_id"] in wanted:
                        out.write(line)
            paths = [subset]
        settings = Settings(data_dir=Path(folder) / "data", seed_paths=paths)
        service = load_service(settings)
        try:
            if not service.documents():
                service.index_paths(paths)
            results = [service.check(r["claim"]) for r in rows]
        finally:
            service.close()
    verdicts = [c[0].verdict if c else "not_found" for c in results]
    splits = sorted({r.get("split", "all") for r in rows})
    print("| split | kind | n | supported | contradicted | not_found |")
    print("|---|---|---|---|---|---|")
    for split in splits:
        picked = [i for i, r in enumerate(rows) if r.get("split", "all") == split]
        table = tally([rows[i] for i in picked], [verdicts[i] for i in picked])
        for kind in KINDS:
            c = table[kind]
            print(
                f"| {split} | {kind} | {sum(c.values())} | {c['supported']} | "
                f"{c['contradicted']} | {c['not_found']} |"
            )
    for split in splits:
        picked = [i for i, r in enumerate(rows) if r.get("split", "all") == split]
        fs, ft, ps, pt = summary(tally([rows[i] for i in picked], [verdicts[i] for i in picked]))
        print(
            f"{split}: false claims marked supported {fs} of {ft}; "
            f"paraphrases supported {ps} of {pt} ({ps / max(pt, 1):.0%})"
        )
    for row, result, verdict in zip(rows, results, verdicts, strict=True):
        wrong = verdict != row["expected"]
        if args.show or wrong:
            reason = result[0].reason if result else ""
            mark = "x" if wrong else " "
            print(f"{mark} {row['id']:<22} {verdict:<12} {row['claim']}  -- {reason}")


if __name__ == "__main__":
    main()
