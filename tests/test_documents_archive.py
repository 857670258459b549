"""Indexing straight from a tar archive, without extracting it."""

from __future__ import annotations

import io
import itertools
import tarfile
from pathlib import Path

import pytest

from index.build import ChunkingConfig, build_index
from index.documents import is_archive, iter_documents
from index.embedding import SentenceTransformerEmbedder
from index.errors import UnreadableDocument
from index.store import IndexStore
from tests.conftest import SHARED


def make_archive(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:xz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


FILES = {
    "TXT/Session 01 - 1946/ARG_01_1946.txt": "Argentina\n\nWe support the Charter.\n",
    "TXT/Session 01 - 1946/BEL_01_1946.txt": "Belgium\n\nPeace needs trade.\n",
    "TXT/manifest.csv": "path,iso3\n",
    "TXT/.hidden.txt": "ignored\n",
}


def test_documents_come_from_inside_the_archive_with_their_paths_as_ids(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "corpus.tar.xz", FILES)
    assert is_archive(archive)
    docs = list(iter_documents([archive]))
    assert [(d.doc_id, d.title, d.text) for d in docs] == [
        ("TXT/Session 01 - 1946/ARG_01_1946.txt", "Argentina", FILES[docs[0].doc_id]),
        ("TXT/Session 01 - 1946/BEL_01_1946.txt", "Belgium", FILES[docs[1].doc_id]),
    ]


def test_an_archive_indexes_and_a_second_run_embeds_nothing(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    archive = make_archive(tmp_path / "corpus.tar.gz", FILES)
    store = IndexStore(tmp_path / "index")
    first = build_index([archive], store, embedder, ChunkingConfig())
    assert (len(first.added), first.chunks_embedded) == (2, 2)
    again = build_index([archive], store, embedder, ChunkingConfig())
    assert (len(again.unchanged), again.chunks_embedded) == (2, 0)


def test_a_broken_archive_is_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.xz"
    broken.write_bytes(b"not an archive")
    with pytest.raises(UnreadableDocument, match=r"broken\.tar\.xz: not a readable tar archive"):
        list(iter_documents([broken]))


def test_the_un_corpus_archive_streams() -> None:
    archive = SHARED / "corpora" / "ungdc-1946-2024.tar.xz"
    if not archive.exists():
        pytest.skip("../shared/corpora is not beside the repository")
    first = next(itertools.islice(iter_documents([archive]), 1))
    assert first.doc_id.startswith("TXT/Session ")
    assert first.doc_id.endswith(".txt")
    assert len(first.text) > 1000
