"""`qa ask --url` end to end (process start to exit) against a running server, with a floor.

    python bench/cli_latency.py http://127.0.0.1:8000 [--runs 10] [--rounds 2]

The floor is `python -c pass` timed in the same rounds: on a shared machine both move together,
so the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str]) -> float:
    """Milliseconds from start to exit of command."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--question", default="What does China oppose?")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ask = [sys.executable, "-m", "api.entry", "ask", args.question, "--url", args.url]
    for n in range(args.rounds):
        floor = [timed([sys.executable, "-c", "pass"]) for _ in range(args.runs)]
        runs = [timed(ask) for _ in range(args.runs)]
        print(
            f"round {n}: python -c pass median {statistics.median(floor):.0f} ms; "
            f"qa ask --url median {statistics.median(runs):.0f} ms (min {min(runs):.0f}); "
            f"ratio {statistics.median(runs) / statistics.median(floor):.2f}"
        )


if __name__ == "__main__":
    main()
