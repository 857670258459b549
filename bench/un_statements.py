"""Sentences of UN speeches the large benchmark index does not hold, as one-off queries.

    python bench/un_statements.py /tmp/ungdc/TXT --sessions 30-47 > bench/data/un_statements.jsonl

bench/latency.py --cold asks each once, so no answer or sentence vector comes from a cache.
Picks sentences of 8 to 30 words from the given sessions with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.chunking import split_sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("txt", type=Path, help="the corpus's extracted TXT folder")
    parser.add_argument("--sessions", default="30-47")
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()
    low, high = (int(x) for x in args.sessions.split("-"))
    files = sorted(
        f
        for f in args.txt.glob("Session */*.txt")
        if low <= int(re.search(r"Session (\d+)", str(f)).group(1)) <= high  # type: ignore[union-attr]
    )
    rng = random.Random(11)
    picked: list[str] = []
    for file in rng.sample(files, min(len(files), args.count)):
        text = file.read_text(encoding="utf-8", errors="replace")
        sentences = [
            " ".join(text[s:e].split())
            for s, e in split_sentences(text)
            if 8 <= len(text[s:e].split()) <= 30
        ]
        if sentences:
            picked.append(rng.choice(sentences))
    for sentence in picked:
        print(json.dumps({"question": sentence}, ensure_ascii=False))


if __name__ == "__main__":
    main()
