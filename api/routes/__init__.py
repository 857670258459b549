"""The HTTP routes: the probes at the root, everything else under API_PREFIX (`api_router`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import ask, chat, check, conversations, documents, search

API_PREFIX = "/v1"

api_router = APIRouter(prefix=API_PREFIX)
for _module in (ask, search, documents, check, chat, conversations):
    api_router.include_router(_module.router)
