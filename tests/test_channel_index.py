"""The multilingual channel's vectors in the index: per segment, through uploads, deletes,
compaction, turning the channel on for an old index, and refusal of another channel model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.build import ChunkingConfig, IndexWriter, apply_changes
from index.documents import Document
from index.errors import IndexDamaged, IndexMismatch
from index.snapshot import load_snapshot
from index.store import CHANNEL, IndexStore
from index.verify import verify_index
from tests.embedders import WordHashEmbedder

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)
MODEL = WordHashEmbedder()


class FakeChannel(WordHashEmbedder):
    """A second model for the channel: the same bag of words under another name and size."""

    def __init__(self, name: str = "fake-channel", dimensions: int = 32) -> None:
        super().__init__(dimensions)
        self.name = name
        self.calls = 0

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        self.calls += len(texts)
        return super().embed_batch(texts)


def doc(n: int, extra: str = "") -> Document:
    return Document(f"d{n:02d}.txt", f"Document {n} is about topic {n}.{extra}", f"Doc {n}")


def channel_by_chunk(store: IndexStore, channel: FakeChannel) -> dict[str, np.ndarray]:
    snapshot = load_snapshot(store, MODEL.dimensions, channel=channel.describe())
    assert snapshot.channel is not None
    rows = np.arange(len(snapshot.chunks))
    vectors = snapshot.channel.reconstruct(rows)
    return {c.doc_id: vectors[i] for i, c in enumerate(snapshot.chunks)}


def expected(channel: FakeChannel, document: Document) -> np.ndarray:
    return channel.embed_batch([f"{document.title}\n{document.text}"])[0]


def test_each_chunk_gets_the_channel_vector_of_its_text(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    channel = FakeChannel()
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1), doc(2)], channel=channel)
    manifest = store.read_manifest()
    assert manifest is not None
    assert manifest.channel == {"name": "fake-channel", "dimensions": 32}
    assert (store.segments_dir / manifest.segments[0] / CHANNEL).is_file()
    found = channel_by_chunk(store, channel)
    for n in (1, 2):
        np.testing.assert_allclose(found[f"d0{n}.txt"], expected(channel, doc(n)), atol=1e-3)


def test_uploads_deletes_and_compaction_keep_the_vectors_row_for_row(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    channel = FakeChannel()
    for n in range(1, 12):  # one small segment each: past MAX_SMALL_SEGMENTS they are merged
        apply_changes(store, MODEL, CHUNKING, upserts=[doc(n)], channel=channel)
    apply_changes(store, MODEL, CHUNKING, removals=["d03.txt"], channel=channel)
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(5, " Changed.")], channel=channel)
    manifest = store.read_manifest()
    assert manifest is not None and len(manifest.segments) < 11
    found = channel_by_chunk(store, channel)
    assert sorted(found) == [f"d{n:02d}.txt" for n in range(1, 12) if n != 3]
    for n in (1, 7, 11):
        np.testing.assert_allclose(found[f"d{n:02d}.txt"], expected(channel, doc(n)), atol=1e-3)
    np.testing.assert_allclose(found["d05.txt"], expected(channel, doc(5, " Changed.")), atol=1e-3)
    assert verify_index(store).ok


def test_turning_the_channel_on_embeds_the_old_chunks_once(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1), doc(2)])
    old = store.read_manifest()
    assert old is not None and old.channel == {}
    channel = FakeChannel()
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(3)], channel=channel)
    assert channel.calls == 3  # the two old chunks and the new one
    found = channel_by_chunk(store, channel)
    np.testing.assert_allclose(found["d01.txt"], expected(channel, doc(1)), atol=1e-3)


def test_turning_the_channel_off_records_it(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    channel = FakeChannel()
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1)], channel=channel)
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(2)])
    manifest = store.read_manifest()
    assert manifest is not None and manifest.channel == {}
    assert load_snapshot(store, MODEL.dimensions).channel is None


def test_another_channel_model_is_refused_until_rebuilt(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1)], channel=FakeChannel())
    other = FakeChannel("other-channel", 48)
    with pytest.raises(IndexMismatch, match="multilingual channel"):
        apply_changes(store, MODEL, CHUNKING, upserts=[doc(2)], channel=other)
    with pytest.raises(IndexMismatch, match="multilingual channel"):
        load_snapshot(store, MODEL.dimensions, channel=other.describe())
    with store.write_lock():
        writer = IndexWriter(store, MODEL, CHUNKING, rebuild=True, channel=other)
        writer.add(doc(1))
        writer.flush()
    assert channel_by_chunk(store, other)["d01.txt"].shape == (48,)


def test_a_missing_channel_file_is_damage(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1)], channel=FakeChannel())
    manifest = store.read_manifest()
    assert manifest is not None
    (store.segments_dir / manifest.segments[0] / CHANNEL).unlink()
    with pytest.raises(IndexDamaged, match="multilingual channel"):
        load_snapshot(store, MODEL.dimensions)


def test_document_languages_are_recorded(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    chinese = Document("zh.txt", "中国坚决反对一切形式的恐怖主义，反对双重标准和政治化。", "声明")
    apply_changes(store, MODEL, CHUNKING, upserts=[doc(1), chinese])
    manifest = store.read_manifest()
    assert manifest is not None
    assert {d: e.language for d, e in manifest.documents.items()} == {
        "d01.txt": "en",
        "zh.txt": "zh",
    }
    assert load_snapshot(store, MODEL.dimensions).languages == {"d01.txt": "en", "zh.txt": "zh"}
