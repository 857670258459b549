"""The indexed documents: list, read, upload, replace and delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import ServiceDep, SettingsDep, WriterDep
from api.errors import ERROR_RESPONSES, ErrorDetail
from api.schemas import (
    DocumentIn,
    DocumentListResponse,
    DocumentOut,
    DocumentResult,
    DocumentResults,
    DocumentSummaryOut,
)
from api.uploads import (
    MAX_FILES_PER_REQUEST,
    UploadedFile,
    close_all,
    read_body,
    read_uploads,
    too_large_message,
)
from index.documents import validate_doc_id
from index.errors import DocumentTooLarge, InvalidInput, UnsupportedFormat
from qa.ingest import IngestItem, ItemResult, file_item, first_refusal, ingest, text_item

router = APIRouter(prefix="/documents", tags=["documents"], responses=ERROR_RESPONSES)

# An upload waits this long for another writer (e.g. a running `qa index`) before a 503.
WRITE_LOCK_TIMEOUT_S = 30.0

_WRITE_RESPONSES: dict[int | str, dict[str, object]] = {
    413: {"model": ERROR_RESPONSES[422]["model"], "description": "A file is over the limit"},
    415: {"model": ERROR_RESPONSES[422]["model"], "description": "Unsupported file type"},
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": MAX_FILES_PER_REQUEST,
                        },
                        "title": {
                            "type": "string",
                            "description": "The title of the one file sent (default: its "
                            "first heading or first sentence-like line).",
                        },
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": DocumentIn.model_json_schema()},
        },
    }
}


@router.get("", response_model=DocumentListResponse)
async def list_documents(service: ServiceDep) -> DocumentListResponse:
    """Every indexed document with its size."""
    return DocumentListResponse(
        documents=[
            DocumentSummaryOut(doc_id=d.doc_id, title=d.title, chars=d.chars, chunks=d.chunks)
            for d in service.documents()
        ]
    )


@router.get("/{doc_id:path}", response_model=DocumentOut)
async def get_document(doc_id: str, service: ServiceDep) -> DocumentOut:
    """One document with the full text that citation offsets refer to."""
    document = service.document(doc_id)
    return DocumentOut(
        doc_id=document.doc_id,
        title=document.title,
        chars=len(document.text),
        chunks=document.chunk_count,
        text=document.text,
        metadata=document.metadata,
    )


@router.post(
    "",
    response_model=DocumentResults,
    responses=_WRITE_RESPONSES,
    openapi_extra=_UPLOAD_BODY,
)
async def add_documents(
    request: Request,
    service: ServiceDep,
    writer: WriterDep,
    settings: SettingsDep,
) -> DocumentResults:
    """Add or replace documents: files (multipart field `files`, doc_id = file name) or JSON.

    One result per document; a bad file is reported in its result and does not stop the
    others. When nothing could be indexed, the first error is the response.
    """
    results = await _ingest_request(request, service, writer, settings, doc_id=None)
    return DocumentResults(results=[_result(r) for r in results])


@router.put(
    "/{doc_id:path}",
    response_model=DocumentResult,
    responses=_WRITE_RESPONSES,
    openapi_extra=_UPLOAD_BODY,
)
async def replace_document(
    doc_id: str,
    request: Request,
    service: ServiceDep,
    writer: WriterDep,
    settings: SettingsDep,
) -> DocumentResult:
    """Add or replace the document `doc_id` with one file or a JSON text."""
    validate_doc_id(doc_id, allow_subfolders=True)
    results = await _ingest_request(request, service, writer, settings, doc_id=doc_id)
    return _result(results[0])


@router.delete("/{doc_id:path}", response_model=DocumentResult)
async def delete_document(doc_id: str, service: ServiceDep, writer: WriterDep) -> DocumentResult:
    """Remove a document and its chunks; it is never cited again. Nothing is re-embedded."""
    validate_doc_id(doc_id, allow_subfolders=True)
    changes = await writer.run(service.apply, removals=[doc_id], lock_timeout=WRITE_LOCK_TIMEOUT_S)
    change = changes[0]
    return DocumentResult(doc_id=change.doc_id, outcome="deleted", chunks=change.chunks)


async def _ingest_request(
    request: Request,
    service: ServiceDep,
    writer: WriterDep,
    settings: SettingsDep,
    doc_id: str | None,
) -> list[ItemResult]:
    """Index what the request carries on the writer thread; doc_id: a PUT's, one item only."""
    items, uploads = await _read_items(request, _max_bytes(settings), doc_id=doc_id)
    try:
        if doc_id is not None and len(items) != 1:
            raise InvalidInput("PUT takes exactly one file", field="files")
        _refuse_early(items)
        return await writer.run(ingest, service, items, WRITE_LOCK_TIMEOUT_S, writer.stopping)
    finally:
        close_all(uploads)


def _refuse_early(items: list[IngestItem]) -> None:
    # Over the limit or of an unsupported type: answered without waiting for the writer.
    refused = first_refusal(items)
    if refused is not None:
        raise refused


def _max_bytes(settings: SettingsDep) -> int:
    return int(settings.max_upload_mb * (1 << 20))


async def _read_items(
    request: Request, max_bytes: int, doc_id: str | None
) -> tuple[list[IngestItem], list[UploadedFile]]:
    """What the request asks to index, by its content type; nothing is parsed yet."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "multipart/form-data":
        uploads = await read_uploads(request, max_bytes)
        items = [
            file_item(
                u.filename,
                u.read,
                doc_id,
                DocumentTooLarge(f"{u.filename}: {too_large_message(max_bytes)}", field="files")
                if u.too_large
                else None,
                u.title,
            )
            for u in uploads
        ]
        return items, uploads
    if content_type == "application/json":
        body = await read_body(request, max_bytes)
        try:
            document = DocumentIn.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        if doc_id is not None and document.doc_id not in (None, doc_id):
            raise InvalidInput("doc_id in the body differs from the URL's", field="doc_id")
        return [text_item(document.text, document.title, document.doc_id, doc_id)], []
    raise UnsupportedFormat(
        "send files as multipart/form-data (field 'files') or a text as application/json",
        field="content-type",
    )


def _result(item: ItemResult) -> DocumentResult:
    error = item.error
    return DocumentResult(
        doc_id=item.doc_id,
        file=item.file,
        outcome=item.outcome,
        chunks=item.chunks,
        error=None
        if error is None
        else ErrorDetail(code=error.code, message=error.message, field=error.field),
    )
