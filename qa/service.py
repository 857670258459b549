"""The question-answering service: one index folder, one model, and what can be asked of them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index.build import (
    SEGMENT_CHUNKS,
    BuildReport,
    ChunkingConfig,
    DocumentChange,
    Progress,
    apply_changes,
    build_index,
)
from index.documents import Document, page_at
from index.embedding import Embedder
from index.errors import DocumentNotFound, IndexDamaged, IndexMismatch
from index.manifest import Manifest, ShardedManifest
from index.snapshot import IndexSnapshot, ShardSource, load_snapshot, version_snapshot
from index.store import IndexStore, StoredDocument
from qa.answer import Answer, AnswerConfig, Answerer, Evidence, SentenceCandidate
from qa.cache import VersionedLRU
from qa.check import CheckConfig, ClaimCheck, EvidenceSignals, FactChecker
from qa.retrieval import Hit, RetrievalConfig, Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentSummary:
    """A line of the document list."""

    doc_id: str
    title: str
    chars: int
    chunks: int


@dataclass(frozen=True)
class IndexStatus:
    """What the loaded version holds."""

    documents: int
    chunks: int
    version: int
    # Set when the published version is damaged and an older one is served instead.
    damage: str | None = None


def document_summaries(manifest: Manifest | None) -> list[DocumentSummary]:
    """The document list of a manifest (none when nothing is published), by doc_id."""
    entries = manifest.documents if manifest is not None else {}
    return [
        DocumentSummary(doc_id, e.title, e.chars, e.chunks) for doc_id, e in sorted(entries.items())
    ]


def with_pages(answer: Answer, snapshot: IndexSnapshot) -> Answer:
    """The answer with each citation's page, from the version of the document it quotes."""
    citations = [
        replace(c, page=page_at(snapshot.documents[c.doc_id].metadata, c.start))
        for c in answer.citations
    ]
    return replace(answer, citations=citations)


def known_documents(
    snapshot: IndexSnapshot, doc_ids: Collection[str] | None
) -> frozenset[str] | None:
    """doc_ids as a set, or DocumentNotFound naming those the snapshot does not hold."""
    if doc_ids is None:
        return None
    missing = sorted(set(doc_ids) - snapshot.documents.keys())
    if missing:
        shown = ", ".join(repr(d) for d in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DocumentNotFound(f"no document with doc_id {shown}{more}", field="doc_ids")
    return frozenset(doc_ids)


class QAService:
    """Answers from the latest published version of an index; reloads when it changes."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        chunking: ChunkingConfig,
        answer_config: AnswerConfig | None = None,
        retrieval_config: RetrievalConfig | None = None,
        segment_chunks: int = SEGMENT_CHUNKS,
        answer_cache_size: int = 1024,
        sentence_vectors: bool | None = None,
        load_index: bool = True,
        channel: Embedder | None = None,
        vectors: ShardSource | None = None,
    ) -> None:
        """load_index: read the published version now (else on first use); channel: the
        multilingual channel's model (index.multilingual), None for off; vectors: where a
        sharded index's vectors are served (index.shard_actors), None for this process."""
        self.store = store
        self.vectors = vectors
        self.channel = channel
        self.sentence_vectors = sentence_vectors
        self.embedder = embedder
        self.chunking = chunking
        self.segment_chunks = segment_chunks
        self.retriever = Retriever(embedder, retrieval_config, channel)
        self.answerer = Answerer(embedder, self.retriever, answer_config)
        self.answers: VersionedLRU[Answer] = VersionedLRU(answer_cache_size)
        self.reloads = 0  # newer versions loaded since start
        self._reload_lock = threading.Lock()
        # The last version a write of this service validated, loaded, before publishing it.
        self._prepared: IndexSnapshot | None = None
        self._refused: str | None = None  # the damaged version not served (CURRENT's name)
        self.damage: str | None = None
        self._snapshot: IndexSnapshot | None = self._load() if load_index else None

    def _load(self) -> IndexSnapshot:
        """The published version; when it is damaged, the newest older one that loads.

        A damaged version is refused (IndexDamaged, a 503, when nothing older loads) and not
        tried again until another is published; `damage` says what is served instead.
        """
        current = self.store.current_name()
        try:
            snapshot = self._load_named(None)
        except IndexDamaged as exc:
            logger.error("index version %s is damaged: %s", current, exc.detail)
            self._refused = current
            for name in reversed(self.store.manifest_names()):
                if name == current:
                    continue
                try:
                    snapshot = self._load_named(name)
                except (IndexDamaged, IndexMismatch) as older:
                    logger.error("older index version %s does not load either: %s", name, older)
                    continue
                self.damage = (
                    f"index version {current or '(CURRENT missing)'} is damaged; serving "
                    f"{name} (run `qa verify`)"
                )
                logger.error("%s", self.damage)
                return snapshot
            raise
        self._refused, self.damage = None, None
        return snapshot

    def _load_named(self, name: str | None) -> IndexSnapshot:
        return load_snapshot(
            self.store,
            self.embedder.dimensions,
            self.embedder.describe(),
            self.chunking.as_dict(),
            name=name,
            channel=self.channel.describe() if self.channel is not None else None,
            vectors=self.vectors,
        )

    def _is_stale(self, snapshot: IndexSnapshot) -> bool:
        """Whether a newer version than `snapshot` is published (and not known to be damaged)."""
        current = self.store.current_name()
        return current != snapshot.manifest_name and (
            self._refused is None or current != self._refused
        )

    def _prepare(self, manifest: Manifest | ShardedManifest) -> None:
        """Load the version about to be published: one that fails to load is never published.

        The loaded copy is served once published, so a write costs no second load.
        """
        self._prepared = version_snapshot(
            self.store, manifest, self.embedder.dimensions, self.vectors
        )

    def _serve_written(self) -> None:
        """After a write: serve the version it published (already loaded when it was validated).

        A service that has not read the index (a command that only writes it) stays unloaded.
        """
        with self._reload_lock:
            prepared, self._prepared = self._prepared, None
            if self._snapshot is None:
                return
            if prepared is not None and self.store.current_name() == prepared.manifest_name:
                self._snapshot = prepared
                self.answerer.aids(prepared).warm()
            else:
                self._reload_if_stale()

    @property
    def snapshot(self) -> IndexSnapshot:
        """The loaded version; when a newer one is published, it is loaded in the background.

        Loading takes seconds at 100,000 chunks (bench/latency.py --index-dir reports it), so no
        question waits for it: they go on with the version they have until the new one is in.
        """
        current = self._snapshot
        if current is None:
            return self.refresh()
        if self._is_stale(current) and self._reload_lock.acquire(blocking=False):
            threading.Thread(target=self._reload_in_background, name="reload", daemon=True).start()
        return current

    def _reload_in_background(self) -> None:
        try:
            self._reload_if_stale()
        except Exception:  # the next question tries again; this version stays served
            logger.exception("could not load the new index version")
        finally:
            self._reload_lock.release()

    def refresh(self) -> IndexSnapshot:
        """The published version, waiting for any reload in progress (read your own writes)."""
        with self._reload_lock:
            return self._reload_if_stale()

    def _reload_if_stale(self) -> IndexSnapshot:
        snapshot = self._snapshot
        if snapshot is None or self._is_stale(snapshot):
            reloading = snapshot is not None
            if reloading:
                self.reloads += 1
            snapshot = self._snapshot = self._load()
            if reloading:
                # A new version's reading aids are built here (on the reload or the writer's
                # thread), not by its first question.
                self.answerer.aids(snapshot).warm()
        return snapshot

    def ask(
        self,
        question: str,
        top_k: int = 8,
        doc_ids: Collection[str] | None = None,
        exclude: Collection[tuple[str, int, int]] = (),
    ) -> Answer:
        """An answer with verbatim citations (with their page, for PDFs), or an abstention.

        With doc_ids, only those documents are searched (DocumentNotFound names any unknown);
        sentences in exclude, (doc_id, start, end), are not cited (they were, earlier).
        Repeated questions come from the cache, keyed by the published version's manifest name,
        which changes with any document change.
        """
        snapshot = self.snapshot
        selected = known_documents(snapshot, doc_ids)
        excluded = frozenset(exclude)
        return self.answers.get_or_compute(
            snapshot.manifest_name,
            (question, top_k, selected, excluded),
            lambda: with_pages(
                self.answerer.answer(snapshot, question, top_k, doc_ids=selected, exclude=excluded),
                snapshot,
            ),
        )

    def named_documents(self, question: str) -> frozenset[str]:
        """The documents question names by speaker, country or title (none: empty)."""
        scope = self.answerer.aids(self.snapshot).catalog.scope(question)
        return scope.doc_ids or frozenset() if scope.mentions else frozenset()

    def search(
        self, query: str, top_k: int = 10, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """The best chunks for query (retrieval only), from doc_ids only when given."""
        snapshot = self.snapshot
        selected = known_documents(snapshot, doc_ids)
        return self.retriever.search(snapshot, query, top_k, doc_ids=selected)

    def page_of(self, hit: Hit) -> int | None:
        """The page a retrieved chunk starts on, for documents that record pages (PDFs)."""
        document = self.snapshot.documents.get(hit.doc_id)
        return page_at(document.metadata, hit.chunk.start) if document is not None else None

    def count_tokens(self, text: str) -> int:
        """Tokens of text for the embedding model's tokenizer (what usage figures count)."""
        return self.embedder.count_tokens(text)

    def candidates(
        self, question: str, top_k: int = 8, doc_ids: Collection[str] | None = None
    ) -> list[SentenceCandidate]:
        """The sentences of the best top_k chunks, scored as answers to question, best first."""
        snapshot = self.snapshot
        return self.answerer.candidates(
            snapshot, question, top_k, doc_ids=known_documents(snapshot, doc_ids), interpret=True
        )

    def evidence(self, question: str, top_k: int = 8) -> Evidence:
        """What an answer to question is decided from: hits, scored sentences, P(answered)."""
        return self.answerer.evidence(self.snapshot, question, top_k)

    def check(self, text: str, config: CheckConfig | None = None) -> list[ClaimCheck]:
        """Each sentence of a draft marked supported, contradicted or not found, with evidence."""
        return FactChecker(self.answerer, config).check(self.snapshot, text)

    def examine_claim(self, claim: str, config: CheckConfig | None = None) -> list[EvidenceSignals]:
        """The signals of the sentences a fact check of claim examines (before any verdict)."""
        return FactChecker(self.answerer, config).examine(self.snapshot, claim)

    def status(self) -> IndexStatus:
        """How many documents and chunks the loaded version holds, and its number."""
        snapshot = self.snapshot
        return IndexStatus(
            len(snapshot.documents), len(snapshot.chunks), snapshot.version, self.damage
        )

    def close(self) -> None:
        """Release the embedder's thread, if it has one, and end the shard actors, if any."""
        self.embedder.close()
        if self.channel is not None:
            self.channel.close()
        # Ended here, not by their handles' finalizers at interpreter exit, after Ray's own.
        end = getattr(self.vectors, "close", None)
        if end is not None:
            end()

    def documents(self) -> list[DocumentSummary]:
        """Every indexed document, by doc_id."""
        return document_summaries(self.snapshot.manifest)

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
        shards: int | None = None,
    ) -> BuildReport:
        """Index files and folders incrementally, then serve the new version; shards: split the
        index into that many (index.shards), None keeps its own count.

        A serving service loads each version before publishing it; a command that only writes
        (`qa index`, which publishes every segment of a long run) does not load them.
        """
        report = build_index(
            paths,
            self.store,
            self.embedder,
            self.chunking,
            prune=prune,
            rebuild=rebuild,
            progress=progress,
            segment_chunks=self.segment_chunks,
            sentence_vectors=self.sentence_vectors,
            validate=self._prepare if self._snapshot is not None else None,
            channel=self.channel,
            shards=shards,
        )
        self._serve_written()
        return report

    def apply(
        self,
        upserts: Sequence[Document] = (),
        removals: Sequence[str] = (),
        *,
        embedder: Embedder | None = None,
        lock_timeout: float = -1,
    ) -> list[DocumentChange]:
        """Add, replace and delete documents in one published version, then serve it.

        `embedder` replaces the service's own for this call (e.g. to embed on another thread).
        """
        changes = apply_changes(
            self.store,
            embedder or self.embedder,
            self.chunking,
            upserts=upserts,
            removals=removals,
            segment_chunks=self.segment_chunks,
            lock_timeout=lock_timeout,
            validate=self._prepare,
            channel=self.channel,
        )
        self._serve_written()
        return changes
