"""Hybrid retrieval over a small real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import ChunkingConfig, build_index
from index.embedding import Embedder
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore
from qa.retrieval import RetrievalConfig, Retriever

DOCS = {
    "cats.txt": "Cats are small domesticated carnivores. They sleep most of the day.",
    "parts.txt": "Replacement part XJ-4471 fits the older pump housing only.",
    "rivers.txt": "The Danube flows through ten countries before reaching the Black Sea.",
}


@pytest.fixture(scope="module")
def snapshot(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> IndexSnapshot:
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    store = IndexStore(folder.parent / "retrieval-index")
    build_index([folder], store, embedder, ChunkingConfig(300, 0))
    return load_snapshot(store, embedder.dimensions)


@pytest.mark.parametrize("fusion", ["convex", "rrf", "dense", "keyword"])
def test_every_fusion_returns_verbatim_hits_best_first(
    embedder: Embedder, snapshot: IndexSnapshot, fusion: str
) -> None:
    retriever = Retriever(embedder, RetrievalConfig(fusion=fusion))  # type: ignore[arg-type]
    hits = retriever.search(snapshot, "Which river reaches the Black Sea?", top_k=3)
    assert hits[0].doc_id == "rivers.txt"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        assert hit.text == DOCS[hit.doc_id][hit.chunk.start : hit.chunk.end]


def test_hybrid_finds_an_exact_part_number(embedder: Embedder, snapshot: IndexSnapshot) -> None:
    hits = Retriever(embedder).search(snapshot, "XJ-4471", top_k=1)
    assert hits[0].doc_id == "parts.txt"
    assert hits[0].keyword > 0


def test_an_empty_index_returns_nothing(embedder: Embedder, tmp_path: Path) -> None:
    empty = load_snapshot(IndexStore(tmp_path / "none"), embedder.dimensions)
    assert Retriever(embedder).search(empty, "anything", top_k=5) == []


@pytest.mark.parametrize("fusion", ["convex", "dense", "keyword"])
def test_a_document_filter_returns_only_those_documents(
    embedder: Embedder, snapshot: IndexSnapshot, fusion: str
) -> None:
    retriever = Retriever(embedder, RetrievalConfig(fusion=fusion))  # type: ignore[arg-type]
    only = frozenset({"cats.txt", "parts.txt"})
    hits = retriever.search(snapshot, "What sleeps by the Black Sea?", 3, doc_ids=only)
    assert hits and {h.doc_id for h in hits} <= only
    assert retriever.search(snapshot, "the Danube", 3, doc_ids=frozenset({"none"})) == []
