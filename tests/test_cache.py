"""The answer cache: reuse within one index version, nothing across versions."""

from __future__ import annotations

from pathlib import Path

from index.build import ChunkingConfig
from index.embedding import SentenceTransformerEmbedder
from index.store import IndexStore
from qa.cache import VersionedLRU
from qa.service import QAService
from tests.conftest import SEEDS


def test_values_are_reused_for_the_same_version_and_key() -> None:
    cache: VersionedLRU[str] = VersionedLRU(capacity=2)
    calls: list[str] = []

    def compute(value: str) -> str:
        calls.append(value)
        return value

    assert cache.get_or_compute("v1", "a", lambda: compute("A")) == "A"
    assert cache.get_or_compute("v1", "a", lambda: compute("other")) == "A"
    assert (cache.hits, cache.misses, calls) == (1, 1, ["A"])


def test_a_new_version_empties_the_cache() -> None:
    cache: VersionedLRU[str] = VersionedLRU(capacity=4)
    cache.get_or_compute("v1", "a", lambda: "old")
    assert cache.get_or_compute("v2", "a", lambda: "new") == "new"
    assert len(cache) == 1
    assert cache.get_or_compute("v2", "a", lambda: "unused") == "new"


def test_the_least_recently_used_goes_first() -> None:
    cache: VersionedLRU[int] = VersionedLRU(capacity=2)
    cache.get_or_compute(1, "a", lambda: 1)
    cache.get_or_compute(1, "b", lambda: 2)
    cache.get_or_compute(1, "a", lambda: 0)  # a is now the most recent
    cache.get_or_compute(1, "c", lambda: 3)
    assert cache.get_or_compute(1, "a", lambda: -1) == 1
    assert cache.get_or_compute(1, "b", lambda: -2) == -2


def test_capacity_zero_always_computes() -> None:
    cache: VersionedLRU[int] = VersionedLRU(capacity=0)
    assert cache.get_or_compute(1, "a", lambda: 1) == 1
    assert cache.get_or_compute(1, "a", lambda: 2) == 2
    assert len(cache) == 0


def test_service_answers_again_after_a_document_changes(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    service = QAService(IndexStore(tmp_path / "index"), embedder, ChunkingConfig())
    service.index_paths([SEEDS])
    question = "What should the international community exchange?"
    first = service.ask(question)
    assert service.ask(question) is first
    assert (service.answers.hits, service.answers.misses) == (1, 1)

    extra = tmp_path / "docs"
    extra.mkdir()
    (extra / "note.txt").write_text("Note\n\nThe sky was grey on Tuesday.\n", encoding="utf-8")
    service.index_paths([extra])
    again = service.ask(question)
    assert again is not first
    assert [c.text for c in again.citations] == [c.text for c in first.citations]
    assert service.answers.misses == 2
