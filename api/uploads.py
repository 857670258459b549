"""Reading document uploads from a request body as it streams in, never past the size limit."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from api.body_guard import too_large_message as body_too_large
from api.errors import MalformedBody
from index.errors import DocumentTooLarge, InvalidInput

MAX_FILES_PER_REQUEST = 64
FILE_FIELDS = frozenset({"files", "file"})
TITLE_FIELD = "title"
MAX_TITLE_CHARS = 500
# Uploads up to this size stay in memory; larger ones are spooled to a temporary file.
SPOOL_BYTES = 1 << 20


@dataclass
class UploadedFile:
    """One file part: its name and content, or too_large when it passed the limit."""

    filename: str
    content: IO[bytes]
    size: int = 0
    too_large: bool = False
    # The form's `title` field, when the request sent one file and named its title.
    title: str | None = None

    def read(self) -> bytes:
        self.content.seek(0)
        return self.content.read()

    def close(self) -> None:
        self.content.close()


@dataclass
class _PartState:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    file: UploadedFile | None = None
    # The value of the `title` form field, while it is being read.
    title: bytearray | None = None


class MultipartUploads:
    """Callbacks for python-multipart that keep file parts, each cut off at max_bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.files: list[UploadedFile] = []
        # Set when the closing boundary is parsed: python-multipart's finalize() checks nothing.
        self.complete = False
        self.title: str | None = None
        self._part = _PartState()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_end": self._on_end,
            "on_part_end": self._on_part_end,
        }

    def _on_end(self) -> None:
        self.complete = True

    def _on_part_begin(self) -> None:
        self._part = _PartState()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]

    def _on_header_end(self) -> None:
        part = self._part
        part.headers[bytes(part.header_field).lower()] = bytes(part.header_value)
        part.header_field, part.header_value = bytearray(), bytearray()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options and name == TITLE_FIELD:
            self._part.title = bytearray()
            return
        if b"filename" not in options or name not in FILE_FIELDS:
            return  # other form fields are ignored (and not kept)
        if len(self.files) >= MAX_FILES_PER_REQUEST:
            raise InvalidInput(f"at most {MAX_FILES_PER_REQUEST} files per request", field="files")
        filename = options[b"filename"].decode("utf-8", "replace")
        # Closed by close_all once the request is done.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self._part.file = UploadedFile(filename=filename, content=spool)
        self.files.append(self._part.file)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        title = self._part.title
        if title is not None:
            title += data[start:end]
            if len(title) > 4 * MAX_TITLE_CHARS:
                raise InvalidInput(f"title: at most {MAX_TITLE_CHARS} characters", field="title")
            return
        upload = self._part.file
        if upload is None:
            return
        upload.size += end - start
        if upload.too_large:
            return
        if upload.size > self.max_bytes:
            # Past the limit the file is dropped; the rest is only counted, never kept.
            upload.too_large = True
            upload.content.close()
            upload.content = io.BytesIO()
            return
        upload.content.write(data[start:end])

    def _on_part_end(self) -> None:
        title = self._part.title
        if title is None:
            return
        text = bytes(title).decode("utf-8", "replace").strip()
        if len(text) > MAX_TITLE_CHARS:
            raise InvalidInput(f"title: at most {MAX_TITLE_CHARS} characters", field="title")
        self.title = text or None


async def read_uploads(request: Request, max_bytes: int) -> list[UploadedFile]:
    """The file parts of a multipart/form-data request body, streamed to bounded buffers."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary", field="files")
    uploads = MultipartUploads(max_bytes)
    parser = MultipartParser(boundary, uploads.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        close_all(uploads.files)
        raise
    except InvalidInput:
        close_all(uploads.files)
        raise
    except Exception as exc:  # python-multipart's errors for a malformed body
        close_all(uploads.files)
        raise MalformedBody("the multipart body is malformed", field="files") from exc
    if not uploads.complete:
        # A body cut short (client gone, proxy timeout) must not be indexed as a whole file.
        close_all(uploads.files)
        raise MalformedBody(
            "the multipart body ends before its closing boundary (was the upload cut short?)",
            field="files",
        )
    if not uploads.files:
        raise InvalidInput("files: no file given in form field 'files'", field="files")
    if uploads.title is not None:
        if len(uploads.files) > 1:
            close_all(uploads.files)
            raise InvalidInput("title names one file: send one file with it", field="title")
        uploads.files[0].title = uploads.title
    return uploads.files


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or DocumentTooLarge as soon as it passes max_bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DocumentTooLarge(too_large_message(max_bytes), field="text")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise DocumentTooLarge(too_large_message(max_bytes), field="text")
    return bytes(body)


def too_large_message(max_bytes: int) -> str:
    return body_too_large(max_bytes, "QA_MAX_UPLOAD_MB")


def close_all(files: list[UploadedFile]) -> None:
    for upload in files:
        upload.close()
