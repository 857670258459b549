"""The question-answering service: one index folder, one model, and what can be asked of them."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.build import BuildReport, ChunkingConfig, Progress, build_index
from index.embedding import Embedder
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore, StoredDocument
from qa.answer import Answer, AnswerConfig, Answerer
from qa.cache import VersionedLRU
from qa.retrieval import Hit, Retriever


@dataclass(frozen=True)
class DocumentSummary:
    """A line of the document list."""

    doc_id: str
    title: str
    chars: int
    chunks: int


class QAService:
    """Answers from the latest published version of an index; reloads when it changes."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        chunking: ChunkingConfig,
        answer_config: AnswerConfig | None = None,
        answer_cache_size: int = 1024,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunking = chunking
        self.retriever = Retriever(embedder)
        self.answerer = Answerer(embedder, self.retriever, answer_config)
        self.answers: VersionedLRU[Answer] = VersionedLRU(answer_cache_size)
        self._reload_lock = threading.Lock()
        self._snapshot = self._load()

    def _load(self) -> IndexSnapshot:
        return load_snapshot(self.store, self.embedder.dimensions, self.embedder.describe())

    @property
    def snapshot(self) -> IndexSnapshot:
        """The published version, reloaded when another writer has published a newer one."""
        current = self._snapshot
        if self.store.current_name() != current.manifest_name:
            with self._reload_lock:
                if self.store.current_name() != self._snapshot.manifest_name:
                    self._snapshot = self._load()
                current = self._snapshot
        return current

    def ask(self, question: str, top_k: int = 8) -> Answer:
        """An answer with verbatim citations, or an abstention; repeated questions from cache."""
        snapshot = self.snapshot
        # The manifest name changes with every published version, i.e. with any document change.
        return self.answers.get_or_compute(
            snapshot.manifest_name,
            (question, top_k),
            lambda: self.answerer.answer(snapshot, question, top_k),
        )

    def search(self, query: str, top_k: int = 10) -> list[Hit]:
        """The best chunks for query (retrieval only)."""
        return self.retriever.search(self.snapshot, query, top_k)

    def documents(self) -> list[DocumentSummary]:
        """Every indexed document, by doc_id."""
        entries = self.snapshot.manifest.documents
        return [
            DocumentSummary(doc_id, e.title, e.chars, e.chunks)
            for doc_id, e in sorted(entries.items())
        ]

    def document(self, doc_id: str) -> StoredDocument:
        """One document with its full text, or DocumentNotFound."""
        return self.snapshot.document(doc_id)

    def index_paths(
        self,
        paths: Iterable[Path],
        *,
        prune: bool = False,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> BuildReport:
        """Index files and folders incrementally, then serve the new version."""
        report = build_index(
            paths,
            self.store,
            self.embedder,
            self.chunking,
            prune=prune,
            rebuild=rebuild,
            progress=progress,
        )
        _ = self.snapshot
        return report
