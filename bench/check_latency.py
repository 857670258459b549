"""Latency of `POST /v1/check` on a draft of several sentences, beside /v1/search on a live server.

    python bench/check_latency.py                      # seed index, the 6-sentence draft below
    python bench/check_latency.py --requests 50 --out bench/results/check-latency.json

The server runs as a subprocess with a temporary QA_DATA_DIR (the seed indexed at start-up);
requests are sent one at a time. The search p50 of the same run is the floor the check p50 is
compared with: on this shared machine absolute milliseconds move with the other work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx
from common import machine, percentiles, write_json
from latency import free_port, start_server, stop, wait_ready

DRAFT = (
    "China supports the International Criminal Police Organization. "
    "China has always been on the side of unilateralism. "
    "Zhang Jun said developing countries need help with border defense. "
    "China opposes the UN Convention against transnational organized crime. "
    "Anti terrorism actions must respect the sovereignty of the countries concerned. "
    "China will stop providing financial support to the UN's anti-terrorism cause."
)


async def timed(client: httpx.AsyncClient, path: str, body: dict, n: int) -> list[float]:
    """Milliseconds of n sequential requests (after two warm-up ones)."""
    for _ in range(2):
        (await client.post(path, json=body)).raise_for_status()
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = await client.post(path, json=body)
        latencies.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return latencies


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-bench-check-") as folder:
        env = {**os.environ, "QA_DATA_DIR": folder, "HF_HUB_OFFLINE": "1", "QA_ACCESS_LOG": "0"}
        port = free_port()
        proc = start_server(env, port, Path(folder) / "server.log")
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base, proc, timeout=300)
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                check = await timed(client, "/v1/check", {"text": args.draft}, args.requests)
                search = await timed(
                    client, "/v1/search", {"query": "border defense", "top_k": 10}, args.requests
                )
                body = (await client.post("/v1/check", json={"text": args.draft})).json()
        finally:
            stop(proc)
    return {
        "machine": machine(),
        "sentences": len(body["claims"]),
        "verdicts": [c["verdict"] for c in body["claims"]],
        "check_ms": percentiles(check),
        "search_ms": percentiles(search),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draft", default=DRAFT)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(
        f"/v1/check of {result['sentences']} sentences: p50 {result['check_ms']['p50']:.1f} ms, "
        f"p95 {result['check_ms']['p95']:.1f} ms; /v1/search p50 "
        f"{result['search_ms']['p50']:.1f} ms; load {result['machine']['loadavg_at_start']}"
    )
    print("verdicts:", result["verdicts"])
    print("written to", write_json("check-latency.json", result, args.out))


if __name__ == "__main__":
    main()
