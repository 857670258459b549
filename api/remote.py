"""A client of a running service's /v1/ API, for `qa` commands given --url or QA_URL.

Standard library only (urllib): `qa ask --url` must not import the model, numpy or httpx, so that
a question to a running server takes milliseconds rather than the seconds of loading locally.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
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
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload: dict[str, Any] = json.loads(response.read())
                return payload
        except urllib.error.HTTPError as exc:
            raise RemoteError(_error_message(exc), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(f"no service answered at {self.url} ({reason})") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The message of the service's JSON error body, else the HTTP status line."""
    try:
        message = json.loads(exc.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"the server answered {exc.code} {exc.reason}"
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
