"""API keys: with QA_API_KEYS set, every /v1/ route needs `Authorization: Bearer <key>`."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Unauthorized, error_response


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_protected(path: str) -> bool:
    """Whether a path is part of the keyed API (the page, probes and docs stay open)."""
    return path == "/v1" or path.startswith("/v1/")


class ApiKeyMiddleware:
    """Answers 401 with the error body unless a /v1/ request carries one of the keys.

    A middleware rather than a route dependency, so routes added later are covered too.
    """

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]

    def accepts(self, token: str) -> bool:
        """Whether token is one of the keys (compared in constant time)."""
        candidate = token.encode()
        # Every key is compared, so the time taken does not tell which one nearly matched.
        return sum(hmac.compare_digest(candidate, key) for key in self.keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        token = bearer_token(authorization)
        if token is not None and self.accepts(token):
            await self.app(scope, receive, send)
            return
        message = (
            "the API key is not valid"
            if token is not None
            else "an API key is required: send the header `Authorization: Bearer <key>`"
        )
        response = error_response(
            401, Unauthorized.code, message, "authorization", {"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)
