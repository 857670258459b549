"""Chaos: normal clients asking questions while others send poisoned requests.

Nothing one request does may fail another (issue 14): the normal clients must see 0 failures,
and no request, poisoned or not, a server error. Poisoned requests: lone surrogates in questions,
searches, checks and chat (streaming or not), in a .jsonl upload; a body over the JSON limit;
a multipart body cut before its closing boundary; a document without keyword tokens added and
deleted; concurrent follow-ups in one conversation while it is deleted; "stream": "yes".

    python bench/chaos.py --seconds 20 --normal 8 --poisoned 1   # starts its own server
    python bench/chaos.py --url http://127.0.0.1:8000 --api-key KEY
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "What agencies does China support?",
    "What does China oppose?",
    "interpol",
    "What is the population of Brazil?",
]
LONE = "x \ud800"
BOUNDARY = "chaosboundary"


@dataclass
class ChaosReport:
    """Status codes seen by the normal and the poisoned clients."""

    normal: Counter[str] = field(default_factory=Counter)
    poisoned: Counter[str] = field(default_factory=Counter)

    @property
    def normal_failures(self) -> int:
        return sum(n for status, n in self.normal.items() if status != "200")

    @property
    def server_errors(self) -> int:
        return sum(
            n
            for counts in (self.normal, self.poisoned)
            for status, n in counts.items()
            if not status.isdigit() or status.startswith("5")
        )


def _json(client: httpx.Client, path: str, body: object) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800: valid JSON that Python's parser accepts.
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def _poisons(client: httpx.Client) -> Iterator[Callable[[], httpx.Response]]:
    conversation: list[str] = []

    def follow_up() -> httpx.Response:
        if not conversation:
            first = client.post("/v1/ask", json={"question": QUESTIONS[0]})
            conversation.append(first.json()["conversation_id"])
        return client.post(
            "/v1/ask", json={"question": "And Brazil?", "conversation_id": conversation[0]}
        )

    def delete_conversation() -> httpx.Response:
        if not conversation:
            return client.get("/healthz")
        return client.delete(f"/v1/conversations/{conversation.pop()}")

    cut = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="cut.txt"'
        "\r\n\r\nA document cut short by a proxy. " * 20
    ).encode()
    surrogate_line = (json.dumps({"_id": "s1", "text": LONE}) + "\n").encode()
    steps: list[Callable[[], httpx.Response]] = [
        lambda: _json(client, "/v1/ask", {"question": LONE}),
        lambda: _json(client, "/v1/search", {"query": LONE}),
        lambda: _json(client, "/v1/check", {"text": LONE + "."}),
        lambda: _json(
            client, "/v1/chat/completions", {"messages": [{"role": "user", "content": LONE}]}
        ),
        lambda: _json(
            client,
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": LONE}], "stream": True},
        ),
        lambda: client.post("/v1/documents", files={"files": ("s.jsonl", surrogate_line)}),
        lambda: client.post(
            "/v1/documents",
            content=cut,
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        ),
        lambda: _json(client, "/v1/ask", {"question": "x" * 3_000_000}),
        lambda: client.post("/v1/documents", json={"doc_id": "punct.txt", "text": "!!! ??? ..."}),
        lambda: client.delete("/v1/documents/punct.txt"),
        lambda: _json(
            client,
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": QUESTIONS[1]}], "stream": "yes"},
        ),
        follow_up,
        follow_up,
        delete_conversation,
    ]
    yield from itertools.cycle(steps)


def run_chaos(
    url: str, api_key: str | None, seconds: float, normal: int, poisoned: int
) -> ChaosReport:
    """Run the clients for `seconds`; each normal client asks and searches in turn."""
    report = ChaosReport()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def record(counts: Counter[str], call: Callable[[], httpx.Response]) -> None:
        try:
            status = str(call().status_code)
        except httpx.HTTPError as exc:  # a reset connection counts as a failure
            status = type(exc).__name__
        with lock:
            counts[status] += 1

    def normal_client(n: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for i in itertools.count(n):
                if time.monotonic() > deadline:
                    return
                question = QUESTIONS[i % len(QUESTIONS)]
                if i % 2:
                    record(
                        report.normal,
                        lambda q=question: client.post("/v1/ask", json={"question": q}),
                    )
                else:
                    record(
                        report.normal,
                        lambda q=question: client.post("/v1/search", json={"query": q}),
                    )

    def poisoned_client() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for step in _poisons(client):
                if time.monotonic() > deadline:
                    return
                record(report.poisoned, step)

    threads = [threading.Thread(target=normal_client, args=(n,)) for n in range(normal)]
    threads += [threading.Thread(target=poisoned_client) for _ in range(poisoned)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report


@contextmanager
def local_server(api_key: str) -> Iterator[str]:
    """The app on the seeds in a temporary folder, under uvicorn on a free port."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data), background_load=False, api_keys=[api_key], access_log=False
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="A running service; default: start one on the seeds.")
    parser.add_argument("--api-key")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--normal", type=int, default=8)
    parser.add_argument("--poisoned", type=int, default=1)
    args = parser.parse_args()
    if args.url:
        report = run_chaos(args.url, args.api_key, args.seconds, args.normal, args.poisoned)
    else:
        with local_server("chaos") as url:
            report = run_chaos(url, "chaos", args.seconds, args.normal, args.poisoned)
    print(f"normal clients: {sum(report.normal.values())} requests, {dict(report.normal)}")
    print(f"poisoned clients: {sum(report.poisoned.values())} requests, {dict(report.poisoned)}")
    print(f"normal failures: {report.normal_failures}; server errors: {report.server_errors}")


if __name__ == "__main__":
    main()
