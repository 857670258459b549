"""Optional rate limits on /v1/ per API key (per client address without keys): 429 when over.

The limits are slowapi's engine (the `limits` package: parsing "60/minute", moving windows, the
in-memory store) behind a plain ASGI middleware. slowapi's own middlewares are not used: the
BaseHTTPMiddleware one costs a task switch per request, and the ASGI one re-sends the response
start with every body message, which breaks streamed chat completions.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import bearer_token, is_protected
from api.errors import error_response


def parse_limits(text: str) -> list[RateLimitItem]:
    """Limits such as "60/minute" or "10/second;500/hour" (ValueError when unreadable)."""
    return parse_many(text)


def client_key(scope: Scope) -> str:
    """Whom a request counts against: its bearer key, else its client address."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = bearer_token(value.decode("latin-1"))
            if token is not None:
                # Hashed: the store need not hold the keys themselves.
                return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Answers 429 with the error body and Retry-After once a key has used up a limit."""

    def __init__(self, app: ASGIApp, limits: list[RateLimitItem]) -> None:
        self.app = app
        self.limits = limits
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = client_key(scope)
        for limit in self.limits:
            if not self.limiter.hit(limit, key):
                reset = self.limiter.get_window_stats(limit, key).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                response = error_response(
                    429,
                    "rate_limited",
                    f"more than {limit} for this client; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
