"""Incremental indexing: embed new and changed documents, publish in batches, prune the gone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from index.chunking import chunk_text
from index.documents import Document, iter_documents
from index.embedding import Embedder
from index.store import Chunk, DocumentEntry, IndexStore, chunk_id, new_manifest
from index.vectors import choose_spec

# Chunks embedded before a segment is written and published: bounds memory, and an
# interrupted run keeps everything published up to its last batch.
SEGMENT_CHUNKS = 4096


class Progress(Protocol):
    """Anything with tqdm's update(n)."""

    def update(self, n: int = 1) -> object: ...


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut into chunks; recorded in the manifest."""

    chunk_size: int = 1000
    overlap: int = 200

    def as_dict(self) -> dict[str, int]:
        return {"chunk_size": self.chunk_size, "overlap": self.overlap}


@dataclass
class BuildReport:
    """What one indexing run did, by doc_id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    version: int = 0


def embedding_text(title: str, text: str, start: int) -> str:
    """What the model sees for a chunk: its text, after the title when the chunk doesn't open it."""
    if title and (start > 0 or not text.startswith(title)):
        return f"{title}\n{text}"
    return text


class IndexWriter:
    """Stages document changes and publishes them as new versions; hold the store's write lock."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        chunking: ChunkingConfig,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunking = chunking
        self.progress = progress
        existing = None if rebuild else store.read_manifest()
        if existing is not None:
            existing.check_compatible(embedder.describe(), chunking.as_dict())
            self.manifest = existing
        else:
            base = store.read_manifest() if rebuild else None
            self.manifest = new_manifest(embedder.describe(), chunking.as_dict())
            if base is not None:
                # Keep numbering increasing so a rebuild never reuses a live segment's name.
                self.manifest.version = base.version
                self.manifest.next_segment = base.next_segment
        self._pending_docs: list[Document] = []
        self._pending_chunks: list[tuple[Document, int, int, tuple[tuple[int, int], ...]]] = []
        self._dirty = rebuild
        self.chunks_embedded = 0

    def status(self, document: Document) -> str:
        """`added`, `updated` or `unchanged`, compared with what is staged or published."""
        entry = self.manifest.documents.get(document.doc_id)
        if entry is None:
            return "added"
        return "unchanged" if entry.content_hash == document.content_hash else "updated"

    def add(self, document: Document) -> str:
        """Stage a document unless it is unchanged; returns its status."""
        status = self.status(document)
        if status == "unchanged":
            return status
        spans = chunk_text(document.text, self.chunking.chunk_size, self.chunking.overlap)
        self._pending_docs.append(document)
        self._pending_chunks.extend((document, s.start, s.end, s.sentences) for s in spans)
        # Mark it now so that a second copy in the same run is seen as unchanged.
        self.manifest.documents[document.doc_id] = DocumentEntry(
            segment="",
            content_hash=document.content_hash,
            title=document.title,
            chars=len(document.text),
            chunks=len(spans),
        )
        if len(self._pending_chunks) >= SEGMENT_CHUNKS:
            self.flush()
        return status

    def remove(self, doc_id: str) -> bool:
        """Drop a document from the next version; False when it is not indexed."""
        if doc_id not in self.manifest.documents:
            return False
        del self.manifest.documents[doc_id]
        self._pending_docs = [d for d in self._pending_docs if d.doc_id != doc_id]
        self._pending_chunks = [c for c in self._pending_chunks if c[0].doc_id != doc_id]
        self._dirty = True
        return True

    def flush(self) -> int:
        """Embed staged chunks, write them as one segment and publish; returns chunks embedded."""
        if not self._pending_docs:
            if self._dirty:
                self._publish()
            return 0
        number = self.manifest.next_segment
        texts = [
            embedding_text(doc.title, doc.text[start:end], start)
            for doc, start, end, _ in self._pending_chunks
        ]
        vectors = self._embed(texts)
        chunks = [
            Chunk(chunk_id(number, row), doc.doc_id, start, end, sentences)
            for row, (doc, start, end, sentences) in enumerate(self._pending_chunks)
        ]
        name = self.store.write_segment(number, self._pending_docs, chunks, vectors)
        for doc in self._pending_docs:
            self.manifest.documents[doc.doc_id].segment = name
        self.manifest.next_segment = number + 1
        self.chunks_embedded += len(chunks)
        self._pending_docs, self._pending_chunks = [], []
        self._publish()
        return len(chunks)

    def _embed(self, texts: list[str]) -> np.ndarray:
        batch = 256
        parts = []
        for i in range(0, len(texts), batch):
            parts.append(self.embedder.embed_batch(texts[i : i + batch]))
            if self.progress is not None:
                self.progress.update(len(texts[i : i + batch]))
        return np.vstack(parts) if parts else np.zeros((0, self.embedder.dimensions), np.float32)

    def _publish(self) -> None:
        chunks = sum(entry.chunks for entry in self.manifest.documents.values())
        self.manifest.vector_index = choose_spec(chunks).as_dict()
        self.manifest.version += 1
        self.store.publish(self.manifest)
        self._dirty = False


def build_index(
    paths: Iterable[Path],
    store: IndexStore,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Index the documents under paths into store, embedding only what is new or changed."""
    report = BuildReport()
    with store.write_lock():
        writer = IndexWriter(store, embedder, chunking, rebuild=rebuild, progress=progress)
        seen: set[str] = set()
        for document in iter_documents(paths):
            seen.add(document.doc_id)
            getattr(report, writer.add(document)).append(document.doc_id)
        if prune:
            for doc_id in sorted(set(writer.manifest.documents) - seen):
                writer.remove(doc_id)
                report.removed.append(doc_id)
        writer.flush()
        report.chunks_embedded = writer.chunks_embedded
        report.version = writer.manifest.version
    return report
