"""Ingestion: files and texts read into documents, a batch with bad items indexed as one version."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import ChunkingConfig
from index.documents import Document
from index.errors import InvalidDocumentId, QAError, UnsupportedFormat
from index.store import IndexStore
from qa.ingest import file_item, ingest, text_item
from qa.service import QAService
from tests.embedders import WordHashEmbedder


@pytest.fixture
def service(tmp_path: Path) -> QAService:
    return QAService(
        IndexStore(tmp_path / "index"),
        WordHashEmbedder(),
        ChunkingConfig(chunk_size=300, overlap=60),
        answer_cache_size=0,
    )


def test_a_text_without_doc_id_is_named_by_its_content_hash(service: QAService) -> None:
    text = "The council met in May. It agreed on a plan."
    expected = "text-" + Document(doc_id="", text=text).content_hash[:16]
    (result,) = ingest(service, [text_item(text, None, None)])
    assert (result.doc_id, result.file, result.outcome, result.chunks) == (
        expected,
        None,
        "added",
        1,
    )
    (again,) = ingest(service, [text_item(text, None, None)])
    assert (again.doc_id, again.outcome) == (expected, "unchanged")


def test_a_bad_item_is_reported_and_the_others_indexed(service: QAService) -> None:
    items = [
        file_item("notes.exe", lambda: b"MZ"),
        file_item("memo.txt", lambda: b"The memo says the budget grew."),
    ]
    bad, good = ingest(service, items)
    assert (bad.doc_id, bad.file, bad.outcome, bad.chunks) == ("notes.exe", "notes.exe", "error", 0)
    assert isinstance(bad.error, UnsupportedFormat)
    assert (good.doc_id, good.file, good.outcome) == ("memo.txt", "memo.txt", "added")
    assert [d.doc_id for d in service.documents()] == ["memo.txt"]


def test_when_nothing_can_be_read_the_first_error_is_raised(service: QAService) -> None:
    refused = QAError("too large")
    with pytest.raises(QAError, match=r"^too large$"):
        ingest(
            service,
            [file_item("a.txt", lambda: b"x", refused=refused), text_item("t", None, "../x")],
        )
    with pytest.raises(InvalidDocumentId):
        ingest(service, [text_item("A text.", None, "../escape")])
    assert service.documents() == []


def test_a_jsonl_file_cannot_replace_one_document(service: QAService) -> None:
    with pytest.raises(UnsupportedFormat, match=r"a \.jsonl file holds many documents"):
        ingest(service, [file_item("many.jsonl", lambda: b"{}", doc_id="one.txt")])
