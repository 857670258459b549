"""A client of a running service's /v1/ API, for `qa` commands given --url or QA_URL.

Standard library only: `qa ask --url` must not import the model, numpy or httpx, so that a
question to a running server takes milliseconds rather than the seconds of loading locally.
Plain http:// requests are written on a socket by hand: importing urllib.request (http.client,
email, ssl) took longer than the whole request (bench/cli_latency.py); https:// uses urllib.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.parse
from typing import Any


class RemoteError(Exception):
    """The server refused the request (its error body's message) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RemoteService:
    """The few calls the command line makes, over HTTP; each returns the API's JSON body."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def ask(self, question: str, top_k: int) -> dict[str, Any]:
        return self._call("POST", "/v1/ask", {"question": question, "top_k": top_k})

    def search(
        self, query: str, top_k: int, doc_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"query": query, "top_k": top_k}
        if doc_ids is not None:
            body["doc_ids"] = doc_ids
        results: list[dict[str, Any]] = self._call("POST", "/v1/search", body)["results"]
        return results

    def check(self, text: str) -> dict[str, Any]:
        return self._call("POST", "/v1/check", {"text": text})

    def documents(self) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = self._call("GET", "/v1/documents")["documents"]
        return documents

    def delete(self, doc_id: str) -> dict[str, Any]:
        return self._call("DELETE", "/v1/documents/" + urllib.parse.quote(doc_id, safe="/"))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        send = _plain_http if self.url.startswith("http://") else _urllib_http
        try:
            status, reason, raw = send(self.url + path, method, headers, data, self.timeout)
        except (OSError, ValueError) as exc:
            reason_text = getattr(exc, "reason", exc)
            raise RemoteError(f"no service answered at {self.url} ({reason_text})") from None
        if status >= 400:
            raise RemoteError(_error_message(raw, status, reason), status)
        try:
            payload: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise RemoteError(f"the server at {self.url} did not answer with JSON") from None
        return payload


Response = tuple[int, str, bytes]


def _plain_http(
    url: str, method: str, headers: dict[str, str], data: bytes | None, timeout: float
) -> Response:
    """One HTTP/1.1 request on a new connection, read to its close: status, reason, body."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if data is not None or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(data or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + (data or b"")
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout) as sock:
        sock.sendall(request)
        received = []
        while chunk := sock.recv(65536):
            received.append(chunk)
    head, _, body = b"".join(received).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, reason = [*status_line.split(" ", 2), "", ""][:3]
    if not version.startswith("HTTP/") or not status.isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return int(status), reason, body


def _dechunk(body: bytes) -> bytes:
    """The payload of a chunked transfer encoding."""
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def _urllib_http(
    url: str, method: str, headers: dict[str, str], data: bytes | None, timeout: float
) -> Response:
    """The same request through urllib (https://, proxies)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.reason, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, str(exc.reason), exc.read()


def _error_message(raw: bytes, status: int, reason: str) -> str:
    """The message of the service's JSON error body, else the HTTP status line."""
    try:
        message = json.loads(raw)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"the server answered {status} {reason}".rstrip()
    return str(message)


def announce(url: str) -> None:
    """Say on stderr that the answer comes from a server, not from this machine's index."""
    print(f"asking the service at {url}", file=sys.stderr)


def print_answer(body: dict[str, Any], as_json: bool) -> None:
    """An /v1/ask body: the answer, then each citation with its offsets and score."""
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    print(body["answer"])
    for c in body["citations"]:
        page = f" page {c['page']}" if c.get("page") is not None else ""
        print(
            f"\n[{c['n']}] {c['doc_id']}{page} [{c['start']}:{c['end']}] score {c['score']:.3f}"
            f"\n    {c['text']}"
        )


def print_claims(body: dict[str, Any], as_json: bool) -> None:
    """A /v1/check body: a line per claim with its verdict, then its evidence."""
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    for c in body["claims"]:
        print(f"{c['verdict'].upper():<12} {c['score']:.3f}  {c['text']}")
        if c.get("reason"):
            print(f"    why: {c['reason']}")
        for e in c["evidence"]:
            print(f"    [{e['n']}] {e['doc_id']} [{e['start']}:{e['end']}] {e['text']}")


def print_documents(documents: list[dict[str, Any]], as_json: bool) -> None:
    """The document list: a JSON object or a tab-separated line per document."""
    for d in documents:
        if as_json:
            line = {k: d[k] for k in ("doc_id", "title", "chars", "chunks")}
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(f"{d['doc_id']}\t{d['chunks']} chunks\t{d['chars']} chars\t{d['title']}")
