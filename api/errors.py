"""One JSON error body for every failure: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.observability import current_request_id
from index.errors import (
    DocumentNotFound,
    DocumentTooLarge,
    IndexBusy,
    IndexDamaged,
    IndexMismatch,
    IndexNotReady,
    InvalidDocumentId,
    InvalidInput,
    ModelNotFound,
    QAError,
    ServiceStopping,
    ShardUnavailable,
    UnreadableDocument,
    UnsupportedFormat,
)
from qa.conversation_store import ConversationNotFound

logger = logging.getLogger("api")


class Unauthorized(QAError):
    """A /v1/ route was called without a valid API key."""

    code = "unauthorized"


class MalformedBody(QAError):
    """A request body that cannot be parsed: cut short, or not in its declared format."""

    code = "malformed_body"


STATUS_BY_ERROR: dict[type[QAError], int] = {
    MalformedBody: 400,
    Unauthorized: 401,
    InvalidInput: 422,
    InvalidDocumentId: 422,
    UnreadableDocument: 422,
    DocumentNotFound: 404,
    ConversationNotFound: 404,
    UnsupportedFormat: 415,
    DocumentTooLarge: 413,
    IndexNotReady: 503,
    IndexBusy: 503,
    IndexMismatch: 503,
    ModelNotFound: 503,
    ServiceStopping: 503,
    IndexDamaged: 503,
    ShardUnavailable: 503,
}


class ErrorDetail(BaseModel):
    """What went wrong, for people and for programs."""

    code: str
    message: str
    field: str | None = None


class ResponseError(ErrorDetail):
    """What went wrong with this request, and the id to quote when reporting it."""

    request_id: str | None = Field(
        None, description="The response's X-Request-ID, also in the log's lines about it."
    )


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ResponseError


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed body: not JSON, or a multipart body cut short",
        404: "Not found",
        422: "Invalid request: the message names the field",
        429: "Over the rate limit (QA_RATE_LIMIT): Retry-After says when to retry",
        500: "Unexpected failure (no internals are shown)",
        503: "The index or model is not loaded yet",
    }.items()
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSONResponse with the error body."""
    detail = ResponseError(
        code=code, message=message, field=field, request_id=current_request_id.get()
    )
    body = ErrorBody(error=detail)
    all_headers = dict(headers or {})
    if detail.request_id is not None:
        # Also set here for the 500 handler, which answers outside the request id middleware.
        all_headers["X-Request-ID"] = detail.request_id
    return JSONResponse(body.model_dump(), status_code=status, headers=all_headers or None)


def status_of(error: QAError) -> int:
    """The HTTP status of a domain error: its class's, or the nearest base's."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_of(loc: tuple[object, ...]) -> str | None:
    # Only the first part says where the value was; a body field may be named "query".
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    return ".".join(parts) or None


async def handle_qa_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QAError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, exc.field, headers)


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    field = _field_of(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        message = "field required"
    return error_response(
        422, "invalid_request", f"{field}: {message}" if field else message, field
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at the request's path.

    Starlette's 405 names only the first route matching the path, but GET, PUT and DELETE of
    /v1/documents/{doc_id} are three routes; each method is tried against the app's routes.
    """
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log; the client learns only that it failed.
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "the service failed to handle this request")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the one error body."""
    app.add_exception_handler(QAError, handle_qa_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
