"""Loading a published version while writers publish and collect garbage."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import ChunkingConfig, apply_changes
from index.documents import Document
from index.embedding import Embedder
from index.errors import IndexDamaged
from index.snapshot import load_snapshot
from index.store import IndexStore

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)


def test_a_reader_retries_when_the_version_it_read_is_collected(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[Document("a.txt", "Alpha is first.")])
    read_segment = store.read_segment
    calls: list[str] = []

    def read_segment_after_two_publishes(name, live, record=None):  # type: ignore[no-untyped-def]
        if not calls:
            calls.append("publishing")
            # Two versions published between reading CURRENT and the segments: the
            # first version's segment is collected (only the last two are kept).
            for n, text in enumerate(["Beta replaces alpha.", "Gamma replaces beta."]):
                doc = Document("a.txt", text)
                apply_changes(store, embedder, CHUNKING, upserts=[doc, Document(f"{n}", text)])
        calls.append(name)
        return read_segment(name, live, record)

    monkeypatch.setattr(store, "read_segment", read_segment_after_two_publishes)
    snapshot = load_snapshot(store, embedder.dimensions)
    # seg-2 is read by the third version's compaction; the first version's seg-1 had gone,
    # so the reader re-read CURRENT and loaded the third version.
    assert calls == ["publishing", "seg-00000002", "seg-00000001", "seg-00000003", "seg-00000004"]
    assert snapshot.version == 3
    assert snapshot.documents["a.txt"].text == "Gamma replaces beta."
    assert sorted(snapshot.documents) == ["0", "1", "a.txt"]


def test_a_missing_segment_of_the_current_version_is_an_error(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[Document("a.txt", "Alpha is first.")])
    for path in store.segments_dir.glob("*/vectors.npy"):
        path.unlink()
    with pytest.raises(IndexDamaged, match=r"segments/seg-00000001/vectors\.npy is missing"):
        load_snapshot(store, embedder.dimensions)
