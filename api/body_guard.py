"""JSON request bodies: a size limit decided before reading, and text that can be encoded.

A plain ASGI middleware, so every route (and routes added later) is covered, and the limit is
applied from the Content-Length header before a byte is read. Python's JSON parser accepts a
lone surrogate escape such as "\\ud800", which no UTF-8 encoder, tokenizer or JSON response can
handle afterwards; such a body is refused here with a 422 naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


def too_large_message(max_bytes: int, setting: str) -> str:
    """What a client is told when a body or file passes the limit `setting` sets."""
    return f"larger than the {round(max_bytes / (1 << 20), 3):g} MB limit ({setting})"


# Escapes of surrogates (paired or lone): only bodies with one need the full check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def unencodable_field(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path of the first string (key or value) in parsed JSON with a lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unencodable_field(key, path) if isinstance(key, str) else None
            if found is not None:
                return (*path, "(key)")
            found = unencodable_field(item, (*path, str(key)))
            if found is not None:
                return found
    if isinstance(value, list):
        for number, item in enumerate(value):
            found = unencodable_field(item, (*path, str(number)))
            if found is not None:
                return found
    return None


def is_json(scope: Scope) -> bool:
    """Whether the request declares a JSON body."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class JsonBodyGuard:
    """Refuses JSON bodies over `limit(path)` bytes with a 413, and lone surrogates with a 422."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], tuple[int, str]]) -> None:
        """limit: a path's largest body in bytes and the setting that decides it."""
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(scope):
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse_size(scope, receive, send, limit, setting)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._refuse_size(scope, receive, send, limit, setting)
                return
        if _SURROGATE_ESCAPE.search(body):
            field = self._unencodable(bytes(body))
            if field is not None:
                name = ".".join(field) or None
                message_text = "text must be valid Unicode (it has a lone surrogate)"
                response = error_response(
                    422,
                    "invalid_request",
                    f"{name}: {message_text}" if name else message_text,
                    name,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _refuse_size(
        scope: Scope, receive: Receive, send: Send, limit: int, setting: str
    ) -> None:
        # The client may still be sending: the connection is closed after the response.
        response = error_response(
            413,
            "payload_too_large",
            f"the request body is {too_large_message(limit, setting)}",
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    @staticmethod
    def _unencodable(body: bytes) -> tuple[str, ...] | None:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None  # the route answers malformed JSON with its 400
        return unencodable_field(parsed)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the client's later messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
