"""A real `qa index` killed with SIGKILL, and questions answered while another process writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from index.build import ChunkingConfig, build_index, embedding_text
from index.documents import Document
from index.embedding import Embedder
from index.snapshot import IndexSnapshot
from index.store import IndexStore
from qa.service import QAService
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

NAMES = (
    "amber birch cedar dune ember fjord garnet heather iris juniper kestrel lagoon "
    "marble nettle onyx pebble quartz rowan sorrel thistle umber violet willow yarrow"
).split()
MONTHS = "January February March April May June July August September October".split()
CHUNKING = ChunkingConfig()  # what `qa index` uses by default


def text_of(n: int) -> str:
    name = NAMES[n].capitalize()
    return f"Bulletin {n}.\n\nThe {name} festival takes place in {MONTHS[n % 10]} every year.\n"


def question_for(n: int) -> str:
    return f"When does the {NAMES[n].capitalize()} festival take place?"


def write_corpus(folder: Path, numbers: Sequence[int]) -> Path:
    folder.mkdir(parents=True)
    for n in numbers:
        (folder / f"doc-{n:02d}.txt").write_text(text_of(n), encoding="utf-8")
    return folder


def start_index(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "QA_DATA_DIR": str(data),
        "QA_SEGMENT_CHUNKS": "1",  # every document is published on its own
        "QA_TORCH_THREADS": "1",
        "QA_EMBED_RUNTIME": "torch",  # the runtime of the `embedder` fixture that reads it
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "index", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def version(store: IndexStore) -> int:
    name = store.current_name()
    return int(name.split("-")[1].split(".")[0]) if name else 0


def kill_when(process: subprocess.Popen[str], condition: Callable[[], bool]) -> int:
    """SIGKILL the process as soon as condition holds; its exit code."""
    deadline = time.monotonic() + 120
    while process.poll() is None and not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate()
    return process.returncode


def check_consistent(snapshot: IndexSnapshot, embedder: Embedder | None = None) -> None:
    """Documents, chunks and vectors of one version agree with its manifest and each other."""
    manifest = snapshot.manifest
    assert set(snapshot.documents) == set(manifest.documents)
    per_doc = Counter(chunk.doc_id for chunk in snapshot.chunks)
    assert dict(per_doc) == {doc_id: e.chunks for doc_id, e in manifest.documents.items()}
    assert len(snapshot.vectors) == len(snapshot.chunks)
    for doc_id, document in snapshot.documents.items():
        assert document.content_hash == manifest.documents[doc_id].content_hash
        assert len(document.text) == manifest.documents[doc_id].chars
    if embedder is not None and snapshot.chunks:
        stored = snapshot.vectors.reconstruct(np.arange(len(snapshot.chunks)))
        texts = [
            embedding_text(snapshot.documents[c.doc_id].title, snapshot.chunk_text(c), c.start)
            for c in snapshot.chunks
        ]
        np.testing.assert_allclose(stored, embedder.embed_batch(texts), atol=1e-4)


def test_a_killed_ingest_leaves_the_last_published_version_and_a_rerun_finishes(
    embedder: Embedder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", range(len(NAMES)))
    data = tmp_path / "data"
    store = IndexStore(data / "index")
    service: QAService | None = None
    staging = store.segments_dir

    def mid_segment_write() -> bool:
        return any(p.name.startswith(".seg-") for p in staging.glob(".seg-*"))

    def mid_publish() -> bool:
        return (store.root / ".CURRENT.tmp").exists() or version(store) >= 14

    kill_points: list[Callable[[], bool]] = [
        lambda: version(store) >= 3,  # just after a publish
        mid_segment_write,  # a segment half written
        mid_publish,  # the pointer written but not yet renamed, or soon after
    ]
    published = 0
    for condition in kill_points:
        assert kill_when(start_index(data, str(corpus)), condition) == -signal.SIGKILL
        manifest = store.read_manifest()
        assert manifest is not None
        ids = sorted(manifest.documents)
        # Documents are indexed in order and each published on its own: a prefix, and more
        # of it than before the kill.
        assert ids == [f"doc-{n:02d}.txt" for n in range(len(ids))]
        assert len(ids) >= published
        published = len(ids)
        service = service or QAService(store, embedder, CHUNKING)
        snapshot = service.refresh()
        assert snapshot.manifest_name == store.current_name()
        check_consistent(snapshot, embedder)
        for doc_id, document in snapshot.documents.items():
            assert document.text == (corpus / doc_id).read_text(encoding="utf-8")
        last = len(ids) - 1
        answer = service.ask(question_for(last))
        assert answer.answered
        assert answer.citations[0].doc_id == ids[last]
        assert answer.citations[0].text == f"The {NAMES[last].capitalize()} festival " + (
            f"takes place in {MONTHS[last % 10]} every year."
        )

    rerun = start_index(data, str(corpus))
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    left = len(NAMES) - published
    assert out.startswith(f"{left} added, 0 updated, {published} unchanged, 0 removed; ")
    assert service is not None
    snapshot = service.refresh()
    assert sorted(snapshot.documents) == [f"doc-{n:02d}.txt" for n in range(len(NAMES))]
    check_consistent(snapshot, embedder)
    assert not list(store.segments_dir.glob(".seg-*"))


class LockedEmbedder(Embedder):
    """One model call at a time, as the service's model thread ensures."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            return self.inner.embed_batch(texts)


def test_questions_are_answered_while_another_process_ingests(
    embedder: Embedder, tmp_path: Path
) -> None:
    first = write_corpus(tmp_path / "first", range(0, 12))
    second = write_corpus(tmp_path / "second", range(6, len(NAMES)))
    data = tmp_path / "data"
    store = IndexStore(data / "index")
    locked = LockedEmbedder(embedder)
    build_index([first], store, locked, CHUNKING)
    service = QAService(store, locked, CHUNKING)

    # Keeps docs 6-11, adds 12-23 one version at a time, then prunes 0-5.
    process = start_index(data, "--prune", str(second))
    extra = Document("extra.txt", "The harbour of Ostrava Bay reopened in March.")
    writer = threading.Thread(target=service.apply, kwargs={"upserts": [extra]})
    versions: set[int] = set()
    try:
        while process.poll() is None:
            snapshot = service.snapshot
            if snapshot.version not in versions:
                versions.add(snapshot.version)
                check_consistent(snapshot)
            answer = service.answerer.answer(snapshot, question_for(8))
            citation = answer.citations[0]
            assert citation.doc_id == "doc-08.txt"
            text = snapshot.documents[citation.doc_id].text
            assert text[citation.start : citation.end] == citation.text
            if len(versions) == 2 and not writer.ident:
                # A writer in this process waits for the other's lock, then publishes.
                writer.start()
    finally:
        out, err = process.communicate(timeout=120)
        if not writer.ident:
            writer.start()
        writer.join()
    assert process.returncode == 0, err
    assert out.startswith("12 added, 0 updated, 6 unchanged, 6 removed; ")
    assert len(versions) >= 2
    snapshot = service.refresh()
    expected = {f"doc-{n:02d}.txt" for n in range(6, len(NAMES))} | {"extra.txt"}
    assert set(snapshot.documents) == expected
    check_consistent(snapshot, locked)
