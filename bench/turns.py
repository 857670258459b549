"""Recording a turn: the CPU time of ConversationStore.add_turn, new conversations and follow-ups.

    python bench/turns.py --turns 2000

Every /v1/ask and chat request records its turn while holding the GIL for the SQLAlchemy work,
so at concurrency 32 this CPU time is taken from the questions' own Python work. The store is a
fresh SQLite file (WAL, synchronous=NORMAL, as the service runs it); the answer has three
citations of 200 characters, a typical size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import machine, markdown_table, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from qa.answer import Answer, Citation
    from qa.conversation_store import ConversationStore, new_conversation_id, sqlite_url

    citations = [Citation(n, f"doc{n}", "x" * 200, 0, 200, 0.5) for n in range(1, 4)]
    answer = Answer(True, "y" * 300, citations, 0.8)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        store = ConversationStore(sqlite_url(Path(folder) / "turns.db"))
        conversation = new_conversation_id()
        store.add_turn(conversation, "first question", "first question", answer, new=True)

        def new_turn() -> None:
            store.add_turn(new_conversation_id(), "a question", "a question", answer, new=True)

        def follow_up() -> None:
            store.add_turn(conversation, "and then?", "and then? question", answer)

        for kind, record in (("new conversation", new_turn), ("follow-up", follow_up)):
            for _ in range(50):  # warm-up: SQLAlchemy compiles and caches the statements
                record()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.turns):
                record()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append(
                {
                    "kind": kind,
                    "turns": args.turns,
                    "cpu_ms_per_turn": cpu / args.turns * 1000,
                    "wall_ms_per_turn": wall / args.turns * 1000,
                }
            )
            print(rows[-1])
        store.close()
    table = [[r["kind"], r["cpu_ms_per_turn"], r["wall_ms_per_turn"]] for r in rows]
    print("\n### Recording a turn\n")
    print(markdown_table(["turn", "CPU ms", "wall ms"], table))
    path = write_json("turns.json", {"machine": machine(), "rows": rows}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
