"""A bounded load run against a running server: questions at a fixed concurrency while documents
are uploaded and deleted, every citation's offsets checked.

    qa serve &                                   # or any running service
    python bench/load.py http://127.0.0.1:8000 [--seconds 60] [--concurrency 32] [--json out]

Each of `concurrency` clients loops over /v1/ask (most), /v1/chat/completions (streamed) and
/v1/search; one more client uploads a small document and deletes it, over and
over. An error is any non-2xx answer, a transport failure, or a citation whose document text at
[start:end] is not the cited text (documents uploaded here are checked against what was sent;
others against GET /v1/documents/{doc_id}). Reports requests, errors and p50/p99 by kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED_QUESTIONS = [
    "What agencies does China support?",
    "What does China oppose?",
    "What should anti-terrorism follow?",
    "interpol",
    "What is the population of Brazil?",
]


@dataclass
class Tally:
    """Latencies and errors by kind of request, and citations checked."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    citations: int = 0
    wrong_citations: int = 0

    def record(self, kind: str, started: float, error: str | None = None) -> None:
        self.latencies[kind].append(time.perf_counter() - started)
        if error is not None:
            self.errors[kind].append(error)


def questions() -> list[str]:
    """Seed questions (../shared/eval/seed_qa.jsonl when present) and UN-topic questions."""
    found = list(SEED_QUESTIONS)
    for path in (SHARED / "eval" / "seed_qa.jsonl", ROOT / "bench" / "data" / "un_questions.jsonl"):
        if path.exists():
            found += [json.loads(line)["question"] for line in path.open() if line.strip()]
    return found


def upload_texts() -> list[str]:
    """Small documents of eight UN debate sentences each."""
    lines = [
        json.loads(line)["question"]
        for line in (ROOT / "bench" / "data" / "un_statements.jsonl").open()
        if line.strip()
    ]
    return [" ".join(lines[i : i + 8]) for i in range(0, len(lines) - 8, 8)]


class Checker:
    """Checks that each citation quotes its document exactly."""

    def __init__(self, client: httpx.AsyncClient, tally: Tally) -> None:
        self.client = client
        self.tally = tally
        self.uploaded: dict[str, str] = {}  # doc_id -> the text sent
        self.fetched: dict[str, str] = {}

    async def text_of(self, doc_id: str) -> str | None:
        if doc_id in self.uploaded:
            return self.uploaded[doc_id]
        if doc_id not in self.fetched:
            response = await self.client.get(f"/v1/documents/{doc_id}")
            if response.status_code != 200:
                return None
            self.fetched[doc_id] = response.json()["text"]
        return self.fetched[doc_id]

    async def check(self, citations: list[dict[str, Any]]) -> str | None:
        """None when every citation quotes its document at its offsets, else what is wrong."""
        for c in citations:
            text = await self.text_of(c["doc_id"])
            self.tally.citations += 1
            if text is None:
                self.tally.wrong_citations += 1
                return f"cited {c['doc_id']!r}, which cannot be read"
            if text[c["start"] : c["end"]] != c["text"]:
                self.tally.wrong_citations += 1
                return f"{c['doc_id']}[{c['start']}:{c['end']}] is not the cited text"
        return None


async def one_request(client: httpx.AsyncClient, checker: Checker, tally: Tally, q: str) -> None:
    roll = random.random()
    started = time.perf_counter()
    try:
        if roll < 0.7:
            kind = "ask"
            response = await client.post("/v1/ask", json={"question": q})
            if response.status_code != 200:
                tally.record(kind, started, f"{response.status_code} {response.text[:200]}")
                return
            error = await checker.check(response.json()["citations"])
        elif roll < 0.85:
            kind = "chat (streamed)"
            body = {"messages": [{"role": "user", "content": q}], "stream": True, "qa": {}}
            citations: list[dict[str, Any]] = []
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    tally.record(kind, started, f"{response.status_code} {response.text[:200]}")
                    return
                done = False
                async for line in response.aiter_lines():
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith("data: "):
                        chunk = json.loads(line.removeprefix("data: "))
                        citations += chunk.get("citations", [])
            error = None if done else "the stream ended without [DONE]"
            error = error or await checker.check(citations)
        else:
            kind = "search"
            response = await client.post("/v1/search", json={"query": q, "top_k": 5})
            if response.status_code != 200:
                tally.record(kind, started, f"{response.status_code} {response.text[:200]}")
                return
            hits = [{**r, "n": 0} for r in response.json()["results"]]
            error = await checker.check(hits)
    except httpx.HTTPError as exc:
        tally.record("transport", started, repr(exc))
        return
    tally.record(kind, started, error)


async def asker(client: httpx.AsyncClient, checker: Checker, tally: Tally, qs: list[str],
                deadline: float) -> None:  # fmt: skip
    while time.perf_counter() < deadline:
        await one_request(client, checker, tally, random.choice(qs))


async def writer(client: httpx.AsyncClient, checker: Checker, tally: Tally, texts: list[str],
                 deadline: float) -> None:  # fmt: skip
    n = 0
    while time.perf_counter() < deadline:
        doc_id = f"load-{n}.txt"
        text = texts[n % len(texts)]
        checker.uploaded[doc_id] = text
        n += 1
        started = time.perf_counter()
        try:
            response = await client.post(
                "/v1/documents", files={"files": (doc_id, text.encode(), "text/plain")}
            )
            ok = response.status_code == 200 and response.json()["results"][0]["outcome"] == "added"
            tally.record(
                "upload", started, None if ok else f"{response.status_code} {response.text[:200]}"
            )
            started = time.perf_counter()
            response = await client.delete(f"/v1/documents/{doc_id}")
            error = (
                None
                if response.status_code == 200
                else f"{response.status_code} {response.text[:200]}"
            )
            tally.record("delete", started, error)
        except httpx.HTTPError as exc:
            tally.record("transport", started, repr(exc))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(url: str, seconds: float, concurrency: int, api_key: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    tally = Tally()
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        ready = await client.get("/readyz")
        ready.raise_for_status()
        checker = Checker(client, tally)
        qs, texts = questions(), upload_texts()
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            writer(client, checker, tally, texts, deadline),
            *(asker(client, checker, tally, qs, deadline) for _ in range(concurrency)),
        )
        elapsed = time.perf_counter() - started
    kinds = {}
    for kind, values in sorted(tally.latencies.items()):
        kinds[kind] = {
            "requests": len(values),
            "errors": len(tally.errors[kind]),
            "p50_ms": round(1000 * statistics.median(values), 1),
            "p99_ms": round(1000 * percentile(values, 0.99), 1),
        }
    total = sum(len(v) for v in tally.latencies.values())
    return {
        "url": url,
        "seconds": round(elapsed, 1),
        "concurrency": concurrency,
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "errors": sum(len(v) for v in tally.errors.values()),
        "citations_checked": tally.citations,
        "wrong_citations": tally.wrong_citations,
        "by_kind": kinds,
        "first_errors": {k: v[:3] for k, v in tally.errors.items() if v},
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['requests']} requests in {report['seconds']} s at concurrency "
        f"{report['concurrency']} ({report['requests_per_second']} req/s), {report['errors']} "
        f"errors; {report['citations_checked']} citations checked, "
        f"{report['wrong_citations']} wrong",
        "",
        "| kind | requests | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for kind, row in report["by_kind"].items():
        lines.append(
            f"| {kind} | {row['requests']} | {row['errors']} | {row['p50_ms']} | {row['p99_ms']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--api-key")
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    args = parser.parse_args()
    report = asyncio.run(run(args.url, args.seconds, args.concurrency, args.api_key))
    print(markdown(report))
    if report["first_errors"]:
        print(json.dumps(report["first_errors"], indent=2), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(1 if report["errors"] else 0)


if __name__ == "__main__":
    main()
