"""API keys: with QA_API_KEYS set, every /v1/ route needs `Authorization: Bearer <key>`.

One check (`ApiKeys.refusal`) serves two places. The middleware is the gate: it runs before any
body is read (so a client without a key never makes the server read or parse one) and covers
paths no route serves. The security dependency declares the scheme on the /v1 routes, so
OpenAPI shows it, and applies the same check to any route mounted without the middleware.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Unauthorized, error_response

AUTH_FIELD = "authorization"


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_protected(path: str) -> bool:
    """Whether a path is part of the keyed API (the page, probes and docs stay open)."""
    return path == "/v1" or path.startswith("/v1/")


class ApiKeys:
    """The configured keys, and what a request's Authorization header earns."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = [key.encode() for key in keys]

    def accepts(self, token: str) -> bool:
        """Whether token is one of the keys (compared in constant time)."""
        candidate = token.encode()
        # Every key is compared, so the time taken does not tell which one nearly matched.
        return sum(hmac.compare_digest(candidate, key) for key in self.keys) > 0

    def refusal(self, authorization: str) -> Unauthorized | None:
        """None when the header carries one of the keys, else the error to answer with."""
        token = bearer_token(authorization)
        if token is not None and self.accepts(token):
            return None
        return Unauthorized(
            "the API key is not valid"
            if token is not None
            else "an API key is required: send the header `Authorization: Bearer <key>`",
            field=AUTH_FIELD,
        )


class ApiKeyMiddleware:
    """Answers 401 with the error body unless a /v1/ request carries one of the keys."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = ApiKeys(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        error = self.keys.refusal(headers.get(b"authorization", b"").decode("latin-1"))
        if error is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            401, error.code, error.message, error.field, {"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="api_key",
    description="One of the keys in QA_API_KEYS.",
)


async def require_api_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """The security dependency of the /v1 routes when keys are configured (401 otherwise)."""
    keys: ApiKeys = request.app.state.api_keys
    error = keys.refusal(request.headers.get("authorization", ""))
    if error is not None:
        raise error
