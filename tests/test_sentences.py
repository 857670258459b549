"""Stored sentence vectors: written when indexing, filled in later, carried by compaction, read
when answering instead of embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.build import ChunkingConfig, apply_changes, build_index
from index.documents import Document
from index.embedding import Embedder
from index.sentences import SentenceVectors, carry_over_sentences, embed_sentences
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import Chunk, IndexStore, chunk_id
from qa.abstention import UNRELATED_SENTENCES
from qa.answer import Answerer
from qa.retrieval import Retriever
from tests.embedders import CountingEmbedder

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)
# float16 storage moves a unit vector's cosines by well under this.
HALF_PRECISION = 2e-3


def essay(n: int) -> Document:
    sentences = [f"Essay {n} makes point {i} about rivers and their {i} bridges." for i in range(8)]
    return Document(f"e{n}.txt", " ".join(sentences), f"Essay {n}")


def stored_matches_fresh(snapshot: IndexSnapshot, embedder: Embedder) -> int:
    """Check every chunk's stored sentence vectors against embedding the sentences now."""
    checked = 0
    for chunk in snapshot.chunks:
        texts = [snapshot.text(chunk.doc_id, s, e) for s, e in chunk.sentences]
        fresh = embedder.embed_batch(texts)
        for number in range(len(texts)):
            stored = snapshot.sentences.lookup(chunk, number)
            assert stored is not None
            assert float(stored @ fresh[number]) == pytest.approx(1.0, abs=HALF_PRECISION)
            checked += 1
        assert snapshot.sentences.lookup(chunk, len(texts)) is None
    return checked


def test_each_distinct_sentence_is_embedded_once_and_offsets_follow_chunks() -> None:
    embedded: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.append(texts)
        return np.arange(len(texts), dtype=np.float32).reshape(-1, 1).repeat(2, axis=1)

    text = "One. Two. Three."
    chunks = [("a", [(0, 4), (5, 9)]), ("a", [(5, 9), (10, 16)]), ("gone", [])]
    vectors, offsets = embed_sentences(chunks, {"a": text}, embed, 2)
    assert embedded == [["One.", "Two.", "Three."]]
    assert offsets.tolist() == [0, 2, 4, 4]
    assert vectors[:, 0].tolist() == [0.0, 1.0, 1.0, 2.0]


def test_a_segment_without_stored_vectors_looks_up_nothing() -> None:
    chunk = Chunk(chunk_id(7, 0), "a", 0, 4, ((0, 4),))
    assert SentenceVectors().lookup(chunk, 0) is None


def test_compaction_copies_sentence_vectors_only_when_every_segment_has_them() -> None:
    kept = Chunk(chunk_id(1, 1), "a", 5, 9, ((5, 9),))
    stored = (np.array([[1, 0], [0, 1]], np.float16), np.array([0, 1, 2]))
    vectors, offsets = carry_over_sentences([(stored, [kept])], 2)  # type: ignore[misc]
    assert (vectors.tolist(), offsets.tolist()) == ([[0.0, 1.0]], [0, 1])
    # The new segment then gets none; the next `qa index --sentence-vectors` fills them in.
    assert carry_over_sentences([(stored, [kept]), (None, [])], 2) is None


def test_indexing_with_sentence_vectors_stores_each_chunks_sentences(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(2):
        (folder / f"e{n}.txt").write_text(essay(n).text, encoding="utf-8")
    report = build_index([folder], store, embedder, CHUNKING, sentence_vectors=True)
    snapshot = load_snapshot(store, embedder.dimensions)
    assert snapshot.manifest.sentence_vectors is True
    # Each essay: 8 sentences in two chunks of 5 and 4, sharing one.
    assert len(snapshot.chunks) == 4
    # A shared sentence is embedded once but stored for each chunk.
    assert report.sentences_embedded == 16
    assert stored_matches_fresh(snapshot, embedder) == 18


def test_a_new_index_stores_sentence_vectors_unless_told_not_to(
    embedder: Embedder, tmp_path: Path
) -> None:
    stored, plain = IndexStore(tmp_path / "stored"), IndexStore(tmp_path / "plain")
    apply_changes(stored, embedder, CHUNKING, upserts=[essay(1)])
    build_index([], plain, embedder, CHUNKING, sentence_vectors=False)
    apply_changes(plain, embedder, CHUNKING, upserts=[essay(1)])
    with_vectors = load_snapshot(stored, embedder.dimensions)
    assert (with_vectors.manifest.sentence_vectors, len(with_vectors.sentences)) == (True, 1)
    assert stored_matches_fresh(with_vectors, embedder) == 9
    without = load_snapshot(plain, embedder.dimensions)
    assert (without.manifest.sentence_vectors, len(without.sentences)) == (False, 0)


def test_turning_sentence_vectors_on_fills_them_in_without_embedding_chunks(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([], store, embedder, CHUNKING, sentence_vectors=False)
    apply_changes(store, embedder, CHUNKING, upserts=[essay(1)])
    assert len(load_snapshot(store, embedder.dimensions).sentences) == 0
    version = store.read_manifest().version  # type: ignore[union-attr]
    counting = CountingEmbedder(embedder)

    report = build_index([], store, counting, CHUNKING, sentence_vectors=True)

    assert (report.chunks_embedded, report.sentences_embedded) == (0, 8)
    assert sorted(counting.texts) == sorted(f"{s}." for s in essay(1).text[:-1].split(". "))
    assert report.version == version + 1
    snapshot = load_snapshot(store, embedder.dimensions)
    assert stored_matches_fresh(snapshot, embedder) == 9
    # The index keeps the choice: later uploads get sentence vectors without being asked.
    apply_changes(store, embedder, CHUNKING, upserts=[essay(2)])
    snapshot = load_snapshot(store, embedder.dimensions)
    assert len(snapshot.sentences) == 2
    assert stored_matches_fresh(snapshot, embedder) == 18


def test_compaction_carries_sentence_vectors_over(embedder: Embedder, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([], store, embedder, CHUNKING, sentence_vectors=True)
    apply_changes(store, embedder, CHUNKING, upserts=[essay(n) for n in range(4)])
    [segment] = store.read_manifest().segments  # type: ignore[union-attr]
    counting = CountingEmbedder(embedder)

    apply_changes(store, counting, CHUNKING, removals=["e0.txt", "e1.txt"])

    [compacted] = store.read_manifest().segments  # type: ignore[union-attr]
    assert compacted != segment
    assert counting.texts == []
    snapshot = load_snapshot(store, embedder.dimensions)
    assert sorted(snapshot.documents) == ["e2.txt", "e3.txt"]
    assert stored_matches_fresh(snapshot, embedder) == 18


def test_offsets_that_do_not_match_the_segment_are_refused(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([], store, embedder, CHUNKING, sentence_vectors=False)
    apply_changes(store, embedder, CHUNKING, upserts=[essay(1)])
    [segment] = store.read_manifest().segments  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="sentence offsets"):
        store.add_sentence_vectors(segment, np.zeros((3, 384)), np.array([0, 1, 2]))
    assert not store.has_sentence_vectors(segment)
    assert sorted(p.name for p in (store.segments_dir / segment).iterdir()) == [
        "chunks.jsonl",
        "documents.jsonl",
        "tokens.jsonl",
        "vectors.npy",
    ]


def test_answers_read_stored_vectors_and_embed_only_the_question(
    embedder: Embedder, tmp_path: Path
) -> None:
    plain, stored = IndexStore(tmp_path / "plain"), IndexStore(tmp_path / "stored")
    documents = [essay(1), Document("danube.txt", "The Danube flows through ten countries.")]
    apply_changes(plain, embedder, CHUNKING, upserts=documents)
    build_index([], stored, embedder, CHUNKING, sentence_vectors=True)
    apply_changes(stored, embedder, CHUNKING, upserts=documents)
    question = "How many countries does the Danube flow through?"
    answers = []
    for store in (plain, stored):
        counting = CountingEmbedder(embedder)
        answerer = Answerer(counting, Retriever(counting))
        answers.append(answerer.answer(load_snapshot(store, embedder.dimensions), question))
        # Besides the fixed unrelated sentences, embedded once for the abstention's floor.
        embedded = [t for t in counting.texts if t not in UNRELATED_SENTENCES]
    assert embedded == [question]
    without, with_stored = answers
    assert [c.text for c in with_stored.citations] == [c.text for c in without.citations]
    assert with_stored.citations[0].text == "The Danube flows through ten countries."
    assert with_stored.confidence == pytest.approx(without.confidence, abs=0.01)
