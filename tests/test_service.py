"""QAService: versions published by other writers are loaded without making questions wait."""

from __future__ import annotations

import time
from pathlib import Path

from index.build import ChunkingConfig, build_index
from index.embedding import SentenceTransformerEmbedder
from index.store import IndexStore
from qa.service import QAService
from tests.conftest import SEEDS


def test_another_writers_version_is_loaded_in_the_background(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    store = IndexStore(tmp_path / "index")
    service = QAService(store, embedder, ChunkingConfig())
    service.index_paths([SEEDS])
    before = service.snapshot
    extra = tmp_path / "docs"
    extra.mkdir()
    (extra / "note.txt").write_text("Note\n\nThe sky was grey on Tuesday.\n", encoding="utf-8")

    build_index([extra], store, embedder, ChunkingConfig())  # as `qa index` would, elsewhere

    assert service.snapshot is before  # the question goes on with the version it had
    deadline = time.monotonic() + 30
    while service.snapshot is before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.snapshot.version == before.version + 1
    assert "note.txt" in service.snapshot.documents
    assert service.refresh() is service.snapshot
