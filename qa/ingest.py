"""Ingestion: uploaded files and texts read into documents, then indexed as one version.

The HTTP route parses the request into `IngestItem`s and maps the `ItemResult`s back to its
response; what a file or text becomes, and how a batch with some bad items is indexed, is here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from index.build import ChangeOutcome
from index.documents import (
    JSONL_SUFFIXES,
    Document,
    check_supported,
    documents_from_bytes,
    title_from_text,
    validate_doc_id,
)
from index.errors import InvalidInput, QAError, UnsupportedFormat
from index.formats import Budget
from qa.service import QAService

# What happened to one item: a change to the index, or an error that kept it out.
ItemOutcome = Literal[ChangeOutcome, "error"]

Loader = Callable[[Budget], list[Document]]


@dataclass(frozen=True)
class IngestItem:
    """One file or text to index: where it came from and how to read it.

    refused: what is wrong with it that needs no reading (over the size limit, unsupported
    type), so that a request of only such items is answered without queueing for the writer.
    """

    file: str | None
    doc_id: str | None
    load: Loader
    refused: QAError | None = None


def first_refusal(items: Sequence[IngestItem]) -> QAError | None:
    """The first item's refusal when every item is refused before reading, else None."""
    if items and all(item.refused is not None for item in items):
        return items[0].refused
    return None


@dataclass(frozen=True)
class ItemResult:
    """What happened to one document of an item, or to the item that could not be read."""

    doc_id: str | None
    file: str | None
    outcome: ItemOutcome
    chunks: int = 0
    error: QAError | None = None


def file_item(
    filename: str,
    read: Callable[[], bytes],
    doc_id: str | None = None,
    refused: QAError | None = None,
    title: str | None = None,
) -> IngestItem:
    """An uploaded file; doc_id (a PUT's) replaces its name; `refused`: found while receiving;
    title, when given, replaces the one read from the file."""

    if refused is None:
        try:
            check_supported(filename)
        except QAError as exc:
            refused = exc

    def load(budget: Budget) -> list[Document]:
        if refused is not None:
            raise refused
        suffix = check_supported(filename)
        if doc_id is not None and suffix in JSONL_SUFFIXES:
            raise UnsupportedFormat(
                "a .jsonl file holds many documents: POST it to /v1/documents", field="files"
            )
        name = validate_doc_id(doc_id or filename, allow_subfolders=doc_id is not None)
        return documents_from_bytes(filename, read(), doc_id=name, budget=budget, title=title)

    return IngestItem(filename, doc_id or filename, load, refused)


def text_item(
    text: str, title: str | None, doc_id: str | None, url_doc_id: str | None = None
) -> IngestItem:
    """A text sent as JSON; without a doc_id it is named by its content hash."""

    def load(budget: Budget) -> list[Document]:
        name = url_doc_id or doc_id
        if name is None:
            name = "text-" + Document(doc_id="", text=text).content_hash[:16]
        name = validate_doc_id(name, allow_subfolders=url_doc_id is not None)
        return [
            Document(
                doc_id=name,
                text=text,
                title=title if title is not None else title_from_text(text, name),
            )
        ]

    return IngestItem(None, url_doc_id or doc_id, load)


def ingest(
    service: QAService,
    items: Sequence[IngestItem],
    lock_timeout: float = -1,
    stopping: threading.Event | None = None,
) -> list[ItemResult]:
    """Read every item, then index all readable documents in one version.

    Each file is read within index.formats.Budget's limits; setting `stopping` (shutdown)
    stops a read in progress.

    A bad item is reported in its result and does not stop the others; when nothing could be
    read, the first error is raised (InvalidInput when the items hold no documents at all).
    """
    # Each slot is an item's error, or the file and index of a document to index.
    slots: list[ItemResult | tuple[str | None, int]] = []
    documents: list[Document] = []
    first_error: QAError | None = None
    for item in items:
        try:
            loaded = item.load(Budget(cancel=stopping))
        except QAError as exc:
            first_error = first_error or exc
            slots.append(ItemResult(item.doc_id, item.file, "error", error=exc))
            continue
        for document in loaded:
            slots.append((item.file, len(documents)))
            documents.append(document)
    if not documents:
        if first_error is None:
            raise InvalidInput("the file holds no documents", field="files")
        raise first_error
    changes = service.apply(upserts=documents, lock_timeout=lock_timeout)
    results = []
    for slot in slots:
        if isinstance(slot, ItemResult):
            results.append(slot)
            continue
        file, index = slot
        change = changes[index]
        results.append(ItemResult(change.doc_id, file, change.outcome, change.chunks))
    return results
