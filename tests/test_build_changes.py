"""Adding, replacing and deleting documents through IndexWriter, and compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import compaction
from index.build import ChunkingConfig, IndexWriter, apply_changes
from index.documents import Document
from index.embedding import Embedder
from index.errors import DocumentNotFound, IndexBusy, IndexMismatch
from index.snapshot import load_snapshot
from index.store import IndexStore
from tests.embedders import CountingEmbedder, WordHashEmbedder

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)


@pytest.fixture
def embedder() -> Embedder:
    """Changes to an index are about files and rows, not meaning: the fake model will do."""
    return WordHashEmbedder()


def doc(n: int, extra: str = "") -> Document:
    return Document(f"d{n:02d}.txt", f"Document {n} is about topic {n}.{extra}", f"Doc {n}")


def vectors_by_chunk(store: IndexStore, embedder: Embedder) -> dict[tuple[str, int, int], bytes]:
    snapshot = load_snapshot(store, embedder.dimensions)
    rows = np.arange(len(snapshot.chunks))
    vectors = snapshot.vectors.reconstruct(rows) if len(rows) else np.zeros((0, 0))
    return {(c.doc_id, c.start, c.end): vectors[i].tobytes() for i, c in enumerate(snapshot.chunks)}


def test_apply_changes_reports_each_outcome(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    changes = apply_changes(store, embedder, CHUNKING, upserts=[doc(1), doc(2)])
    assert [(c.doc_id, c.outcome, c.chunks) for c in changes] == [
        ("d01.txt", "added", 1),
        ("d02.txt", "added", 1),
    ]
    changes = apply_changes(
        store, embedder, CHUNKING, upserts=[doc(1), doc(2, " Corrected.")], removals=[]
    )
    assert [c.outcome for c in changes] == ["unchanged", "updated"]
    changes = apply_changes(store, embedder, CHUNKING, removals=["d01.txt"])
    assert [(c.doc_id, c.outcome, c.chunks) for c in changes] == [("d01.txt", "deleted", 1)]
    snapshot = load_snapshot(store, embedder.dimensions)
    assert list(snapshot.documents) == ["d02.txt"]
    assert snapshot.documents["d02.txt"].text.endswith("Corrected.")
    assert [c.doc_id for c in snapshot.chunks] == ["d02.txt"]


def test_deleting_an_unknown_document_changes_nothing(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[doc(1)])
    before = store.current_name()
    with pytest.raises(DocumentNotFound, match="no document with doc_id 'nope'"):
        apply_changes(store, embedder, CHUNKING, upserts=[doc(2)], removals=["nope"])
    assert store.current_name() == before
    assert list(load_snapshot(store, embedder.dimensions).documents) == ["d01.txt"]


def test_two_versions_of_a_document_in_one_batch_keep_the_last(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    first, second = doc(1), doc(1, " " + "A much longer second version. " * 20)
    changes = apply_changes(store, embedder, CHUNKING, upserts=[first, second])
    assert [c.outcome for c in changes] == ["added", "updated"]
    snapshot = load_snapshot(store, embedder.dimensions)
    text = snapshot.documents["d01.txt"].text
    assert text == second.text
    assert len(snapshot.chunks) == changes[1].chunks > 1
    for chunk in snapshot.chunks:
        assert snapshot.chunk_text(chunk) == text[chunk.start : chunk.end]


def test_deleting_embeds_nothing_and_compacts_mostly_dead_segments(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    counting = CountingEmbedder(embedder)
    apply_changes(store, counting, CHUNKING, upserts=[doc(n) for n in range(6)])
    [segment] = store.read_manifest().segments  # type: ignore[union-attr]
    before = vectors_by_chunk(store, embedder)
    embedded = counting.embedded

    apply_changes(store, counting, CHUNKING, removals=["d00.txt", "d01.txt"])
    assert store.read_manifest().segments == [segment]  # type: ignore[union-attr]
    apply_changes(store, counting, CHUNKING, removals=["d02.txt"])
    # Half the rows are dead now: the live rows are copied into a new segment.
    manifest = store.read_manifest()
    assert manifest is not None
    [compacted] = manifest.segments
    assert compacted != segment
    assert store.segment_rows(compacted) == 3
    assert counting.embedded == embedded
    after = vectors_by_chunk(store, embedder)
    assert after == {key: value for key, value in before.items() if key[0] >= "d03"}
    snapshot = load_snapshot(store, embedder.dimensions)
    assert sorted(snapshot.documents) == ["d03.txt", "d04.txt", "d05.txt"]
    assert len({c.id for c in snapshot.chunks}) == 3
    # Garbage collection keeps the previous version's segment for readers, then drops it.
    apply_changes(store, counting, CHUNKING, upserts=[doc(9)])
    apply_changes(store, counting, CHUNKING, upserts=[doc(10)])
    assert not (store.segments_dir / segment).exists()


def test_many_small_segments_are_merged(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "MAX_SMALL_SEGMENTS", 3)
    store = IndexStore(tmp_path / "index")
    for n in range(3):
        apply_changes(store, embedder, CHUNKING, upserts=[doc(n)])
    assert len(store.read_manifest().segments) == 3  # type: ignore[union-attr]
    apply_changes(store, embedder, CHUNKING, upserts=[doc(3)])
    manifest = store.read_manifest()
    assert manifest is not None
    assert len(manifest.segments) == 1
    snapshot = load_snapshot(store, embedder.dimensions)
    assert sorted(snapshot.documents) == [f"d0{n}.txt" for n in range(4)]
    hits = snapshot.search(embedder.embed_batch(["Document 3 is about topic 3."]), 1)
    assert hits[0][0].doc_id == "d03.txt"


def test_a_second_writer_waits_for_the_lock(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    other = IndexStore(tmp_path / "index")
    with store.write_lock(), pytest.raises(IndexBusy, match="another writer"):
        apply_changes(other, embedder, CHUNKING, upserts=[doc(1)], lock_timeout=0.1)
    assert not store.exists()


def test_flush_publishes_every_segment_chunks(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    with store.write_lock():
        writer = IndexWriter(store, embedder, CHUNKING, segment_chunks=2)
        for n in range(5):
            writer.add(doc(n))
        assert store.read_manifest().version == 2  # type: ignore[union-attr]
        writer.flush()
    manifest = store.read_manifest()
    assert manifest is not None
    assert (manifest.version, len(manifest.documents)) == (3, 5)


def test_apply_changes_publishes_one_version_however_many_segments(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[doc(1)])
    changes = apply_changes(
        store, embedder, CHUNKING, upserts=[doc(n) for n in range(2, 7)], segment_chunks=2
    )
    assert [c.outcome for c in changes] == ["added"] * 5
    manifest = store.read_manifest()
    assert manifest is not None
    assert (manifest.version, len(manifest.documents)) == (2, 6)


def test_a_version_that_fails_validation_is_never_published(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[doc(1)])

    def refuse(manifest: object) -> None:
        raise RuntimeError("does not load")

    with pytest.raises(RuntimeError):
        apply_changes(store, embedder, CHUNKING, upserts=[doc(2)], validate=refuse)
    assert store.current_name() == "manifest-00000001.json"
    assert list(load_snapshot(store, embedder.dimensions).documents) == ["d01.txt"]


def test_a_collection_without_keyword_tokens_is_published_and_loads(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[doc(1)])
    apply_changes(store, embedder, CHUNKING, upserts=[Document("punct.txt", "!!! ??? ...")])
    apply_changes(store, embedder, CHUNKING, removals=["d01.txt"])
    snapshot = load_snapshot(store, embedder.dimensions)
    assert list(snapshot.documents) == ["punct.txt"]
    assert snapshot.keywords.search(["topic"], k=3)[0].tolist() == []


def test_the_configured_chunking_is_checked_at_load(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[doc(1)])
    other = ChunkingConfig(chunk_size=500, overlap=60).as_dict()
    with pytest.raises(IndexMismatch, match="chunking"):
        load_snapshot(store, embedder.dimensions, embedder.describe(), other)
