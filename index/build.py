"""Incremental indexing: embed new and changed documents, publish in batches, prune the gone."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from index.chunking import ChunkSpan, chunk_text
from index.compaction import compaction_candidates, merge_segments
from index.documents import Document, iter_file_documents, iter_paths, validate_doc_id
from index.embedding import Embedder
from index.errors import DocumentNotFound, IndexDamaged, IndexMismatch, QAError
from index.language import detect_language
from index.manifest import (
    DocumentEntry,
    Manifest,
    ShardedManifest,
    check_channel,
    check_keyword_tokens,
    new_manifest,
)
from index.memory import release_free_memory
from index.sentences import STORED_BY_DEFAULT, backfill_sentence_vectors, embed_sentences
from index.store import (
    Chunk,
    IndexStore,
    chunk_id,
    split_chunk_id,
)
from index.text import KEYWORD_TOKENIZER, tokenize
from index.vectors import choose_spec

if TYPE_CHECKING:
    from index.shards import ShardedWriter

# Chunks embedded before a segment is written and published: bounds memory, and an
# interrupted run keeps everything published up to its last batch.
SEGMENT_CHUNKS = 4096


# Checks a manifest about to be published (e.g. by loading it); raises to stop the publish.
# A sharded index is validated by its top-level manifest.
Validate = Callable[[Manifest | ShardedManifest], object]


class Progress(Protocol):
    """Anything with tqdm's update(n)."""

    def update(self, n: int = 1) -> object: ...


@runtime_checkable
class IndexProgress(Progress, Protocol):
    """Progress that is also told what is ahead: the texts a staged document will embed, and
    each file read (so a bar can show totals and an ETA)."""

    def planned(self, texts: int) -> object: ...

    def file_done(self) -> object: ...


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut into chunks; recorded in the manifest."""

    chunk_size: int = 1000
    overlap: int = 200

    def as_dict(self) -> dict[str, int]:
        return {"chunk_size": self.chunk_size, "overlap": self.overlap}


# What a write did to one document: staging one gives the first three, a removal "deleted".
StageOutcome = Literal["added", "updated", "unchanged"]
ChangeOutcome = Literal[StageOutcome, "deleted"]


@dataclass
class BuildReport:
    """What one indexing run did, by doc_id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    version: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, outcome: StageOutcome, doc_id: str) -> None:
        """Note what staging doc_id did."""
        {"added": self.added, "updated": self.updated, "unchanged": self.unchanged}[outcome].append(
            doc_id
        )


@dataclass(frozen=True)
class DocumentChange:
    """What happened to one document: added, updated, unchanged or deleted, with its chunks."""

    doc_id: str
    outcome: ChangeOutcome
    chunks: int


def keyword_tokens(title: str, text: str) -> list[str]:
    """What BM25 indexes for a chunk: its words and its document's title (titles name topics)."""
    return tokenize(text) + tokenize(title) if title else tokenize(text)


def embedding_text(title: str, text: str, start: int) -> str:
    """What the model sees for a chunk: its text, after the title when the chunk doesn't open it."""
    if title and (start > 0 or not text.startswith(title)):
        return f"{title}\n{text}"
    return text


class IndexWriter:
    """Stages document changes and publishes them as new versions; hold the store's write lock.

    sentence_vectors: store each chunk's sentence vectors too (index.sentences); None keeps
    what the index was built with, and stores them in a new one. channel: the multilingual
    channel's model (None: off); an index built without it gets every live segment's chunks
    embedded with it, one built with another channel model is refused (IndexMismatch;
    `rebuild` starts afresh). publish_batches:
    publish each full segment as it is written (`qa index`: an interrupted run keeps its
    work), else only on flush() (one request, one version). validate: called with each
    manifest before it is published; its error stops the publish, so nothing that fails to
    load is ever served.
    """

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        chunking: ChunkingConfig,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
        segment_chunks: int = SEGMENT_CHUNKS,
        sentence_vectors: bool | None = None,
        publish_batches: bool = True,
        validate: Validate | None = None,
        channel: Embedder | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.publish_batches = publish_batches
        self.validate = validate
        self.embedder = embedder
        self.chunking = chunking
        self.progress = progress
        self.segment_chunks = segment_chunks
        existing = None if rebuild else store.read_manifest()
        if existing is not None:
            existing.check_compatible(embedder.describe(), chunking.as_dict())
            check_channel(existing.channel, channel.describe() if channel else None)
            check_keyword_tokens(existing, {d: e.language for d, e in existing.documents.items()})
            # Its documents' tokens are today's (check_keyword_tokens), so new ones may join.
            existing.keyword_tokenizer = KEYWORD_TOKENIZER
            self.manifest = existing
        else:
            if not rebuild and store.exists():
                # Versions on disk but no CURRENT: starting afresh would drop every document.
                raise IndexDamaged(
                    "CURRENT is missing, though versions of the index are on disk; "
                    "`qa verify` lists them, `qa index --rebuild` starts again"
                )
            self.manifest = new_manifest(embedder.describe(), chunking.as_dict())
            self.manifest.channel = channel.describe() if channel else {}
            self.manifest.sentence_vectors = STORED_BY_DEFAULT
            # Number after everything on disk, so a new or rebuilt index never overwrites the
            # files of a version that is kept (a damaged CURRENT, or an old one).
            version, segment = store.highest_numbers()
            self.manifest.version = version
            self.manifest.next_segment = segment + 1
        self._pending_docs: list[Document] = []
        self._pending_chunks: list[tuple[Document, int, int, tuple[tuple[int, int], ...]]] = []
        self._dirty = rebuild
        if sentence_vectors is not None and sentence_vectors != self.manifest.sentence_vectors:
            self.manifest.sentence_vectors = sentence_vectors
            self._dirty = True
        self.chunks_embedded = 0
        self.sentences_embedded = 0
        # Segments published before the channel was turned on get its vectors at the next flush.
        self._channel_backfill: set[str] = set()
        wanted_channel = channel.describe() if channel else {}
        if bool(wanted_channel) != bool(self.manifest.channel):
            if wanted_channel:
                self._channel_backfill = set(self.manifest.segments) - {""}
            self.manifest.channel = wanted_channel
            self._dirty = True

    def writer_of(self, doc_id: str) -> IndexWriter:
        """The writer of the index holding doc_id: this one (index.shards has several)."""
        return self

    def status(self, document: Document) -> StageOutcome:
        """`added`, `updated` or `unchanged`, compared with what is staged or published."""
        entry = self.manifest.documents.get(document.doc_id)
        if entry is None:
            return "added"
        return "unchanged" if entry.content_hash == document.content_hash else "updated"

    def add(self, document: Document, spans: Sequence[ChunkSpan] | None = None) -> StageOutcome:
        """Stage a document unless it is unchanged; returns its status.

        spans: its chunks when already cut with this writer's chunking (by a Ray task).
        """
        status = self.status(document)
        if status == "unchanged":
            return status
        if spans is None:
            spans = chunk_text(document.text, self.chunking.chunk_size, self.chunking.overlap)
        # A second version of a staged document replaces the first: one text per doc_id.
        self._drop_pending(document.doc_id)
        self._pending_docs.append(document)
        self._pending_chunks.extend((document, s.start, s.end, s.sentences) for s in spans)
        if isinstance(self.progress, IndexProgress):
            # Overlapping chunks share sentences, embedded once (index.sentences).
            sentences = (
                len({pair for s in spans for pair in s.sentences})
                if self.manifest.sentence_vectors
                else 0
            )
            channel = len(spans) if self.manifest.channel else 0
            self.progress.planned(len(spans) + sentences + channel)
        # Mark it now so that a second copy in the same run is seen as unchanged.
        self.manifest.documents[document.doc_id] = DocumentEntry(
            segment="",
            content_hash=document.content_hash,
            title=document.title,
            chars=len(document.text),
            chunks=len(spans),
            language=detect_language(document.text),
        )
        if len(self._pending_chunks) >= self.segment_chunks:
            if self.publish_batches:
                self.flush()
            else:
                self._write_pending()
        return status

    def remove(self, doc_id: str) -> bool:
        """Drop a document from the next version; False when it is not indexed."""
        if doc_id not in self.manifest.documents:
            return False
        del self.manifest.documents[doc_id]
        self._drop_pending(doc_id)
        self._dirty = True
        return True

    def _drop_pending(self, doc_id: str) -> None:
        if any(d.doc_id == doc_id for d in self._pending_docs):
            self._pending_docs = [d for d in self._pending_docs if d.doc_id != doc_id]
            self._pending_chunks = [c for c in self._pending_chunks if c[0].doc_id != doc_id]

    def flush(self) -> int:
        """Embed staged chunks, write them as one segment and publish; returns chunks embedded."""
        written = self._write_pending()
        if self._channel_backfill:
            self.fill_channel_vectors()
        if self._dirty:
            self.compact()
            self._publish()
        return written

    def _write_pending(self) -> int:
        """Embed staged chunks and write them as one segment, unpublished; returns their count."""
        if not self._pending_docs:
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
        tokens = [
            keyword_tokens(doc.title, doc.text[start:end])
            for doc, start, end, _ in self._pending_chunks
        ]
        sentences = None
        if self.manifest.sentence_vectors:
            sentences = self._embed_sentences(
                [(c.doc_id, c.sentences) for c in chunks],
                {doc.doc_id: doc.text for doc in self._pending_docs},
            )
        channel = None
        if self.channel is not None and self.manifest.channel:
            channel = self._embed(texts, self.channel)
        name = self.store.write_segment(
            number, self._pending_docs, chunks, vectors, tokens, sentences, channel
        )
        for doc in self._pending_docs:
            self.manifest.documents[doc.doc_id].segment = name
        self.manifest.next_segment = number + 1
        self.chunks_embedded += len(chunks)
        self._pending_docs, self._pending_chunks = [], []
        self._dirty = True
        return len(chunks)

    def compaction_candidates(self) -> list[str]:
        """Segments worth rewriting (index.compaction)."""
        return compaction_candidates(self.store, self.manifest)

    def compact(self) -> list[str]:
        """Merge the candidate segments' live rows into one new segment; nothing is embedded.

        Staged for the next publish; returns the segments replaced.
        """
        segments = self.compaction_candidates()
        if segments:
            merge_segments(self.store, self.manifest, segments, self.embedder.dimensions)
            self._dirty = True
        return segments

    def fill_channel_vectors(self) -> list[str]:
        """Embed the chunks of the segments published before the channel was turned on;
        returns those segments. Each file lands as soon as it is embedded."""
        filled = []
        if self.channel is not None:
            for segment in self.manifest.segments:
                if segment not in self._channel_backfill:
                    continue
                documents, chunks, _, _ = self.store.read_segment(segment, self.manifest.documents)
                by_id = {d.doc_id: d for d in documents}
                # Rows of replaced or deleted documents get the vector of an empty text.
                texts = [""] * self.store.segment_rows(segment)
                for chunk in chunks:
                    doc = by_id[chunk.doc_id]
                    texts[split_chunk_id(chunk.id)[1]] = embedding_text(
                        doc.title, doc.text[chunk.start : chunk.end], chunk.start
                    )
                self.store.add_channel_vectors(segment, self._embed(texts, self.channel))
                filled.append(segment)
        self._channel_backfill = set()
        self._dirty = self._dirty or bool(filled)
        return filled

    def fill_sentence_vectors(self) -> list[str]:
        """Store sentence vectors for the live segments without them (index.sentences)."""
        filled = backfill_sentence_vectors(self.store, self.manifest, self._embed_sentences)
        if filled:
            self._dirty = True
        return filled

    def _embed_sentences(
        self,
        chunks: Sequence[tuple[str, Sequence[tuple[int, int]]]],
        texts: Mapping[str, str],
    ) -> tuple[np.ndarray, np.ndarray]:
        def embed(sentences: list[str]) -> np.ndarray:
            self.sentences_embedded += len(sentences)
            return self._embed(sentences)

        return embed_sentences(chunks, texts, embed, self.embedder.dimensions)

    def _embed(self, texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
        model = embedder or self.embedder
        batch = 256
        parts = []
        for i in range(0, len(texts), batch):
            parts.append(model.embed_passages(texts[i : i + batch]))
            release_free_memory()
            if self.progress is not None:
                self.progress.update(len(texts[i : i + batch]))
        return np.vstack(parts) if parts else np.zeros((0, model.dimensions), np.float32)

    def _publish(self) -> None:
        chunks = sum(entry.chunks for entry in self.manifest.documents.values())
        self.manifest.vector_index = choose_spec(chunks).as_dict()
        self.manifest.version += 1
        if self.validate is not None:
            try:
                self.validate(self.manifest)
            except BaseException:
                self.manifest.version -= 1
                raise
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
    segment_chunks: int = SEGMENT_CHUNKS,
    sentence_vectors: bool | None = None,
    validate: Validate | None = None,
    channel: Embedder | None = None,
    shards: int | None = None,
) -> BuildReport:
    """Index the documents under paths into store, embedding only what is new or changed.

    sentence_vectors: store sentence vectors (index.sentences), also for documents indexed
    before; None keeps what the index was built with (a new index stores them). shards: split
    the index into that many (index.shards); None keeps the index's own count (one for a new
    index).
    """
    report = BuildReport()
    with store.write_lock():
        writer = open_writer(
            store,
            embedder,
            chunking,
            shards=shards,
            rebuild=rebuild,
            progress=progress,
            segment_chunks=segment_chunks,
            sentence_vectors=sentence_vectors,
            validate=validate,
            channel=channel,
        )
        seen: set[str] = set()
        for file, doc_id in iter_paths(paths):
            try:
                for document in iter_file_documents(
                    file, validate_doc_id(doc_id, allow_subfolders=True)
                ):
                    seen.add(document.doc_id)
                    report.record(writer.add(document), document.doc_id)
            except QAError as exc:
                report.errors.append(exc.message)
            if isinstance(progress, IndexProgress):
                progress.file_done()
        finish_build(writer, report, seen, prune=prune)
    return report


def open_writer(
    store: IndexStore,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    shards: int | None = None,
    rebuild: bool = False,
    **options: Any,
) -> IndexWriter | ShardedWriter:
    """The writer of the index in store: one IndexWriter, or one per shard (index.shards).

    shards: how many the index is to have; None keeps its own (rebuilt the same way). Another
    count than the index's needs `rebuild` (IndexMismatch).
    """
    # index.shards builds on IndexWriter, so it is imported here rather than at the top.
    from index.shards import ShardedWriter, read_sharded, shard_count

    if shards is None:
        try:
            shards = shard_count(store)
        except QAError:
            if not rebuild:
                raise
            shards = 1  # a damaged index rebuilt without --shards: one shard
    if shards > 1:
        return ShardedWriter(store, embedder, chunking, shards, rebuild=rebuild, **options)
    if not rebuild and (top := read_sharded(store)) is not None:
        raise IndexMismatch(
            f"the index has {top.shards} shards; `qa index --rebuild --shards 1` joins them"
        )
    return IndexWriter(store, embedder, chunking, rebuild=rebuild, **options)


def finish_build(
    writer: IndexWriter | ShardedWriter, report: BuildReport, seen: set[str], *, prune: bool
) -> None:
    """Prune documents no longer under the paths, backfill sentence vectors, publish, and
    record the run's figures in report."""
    # A file that failed to load may hold documents still indexed: prune nothing then.
    if prune and not report.errors:
        for doc_id in sorted(set(writer.manifest.documents) - seen):
            writer.remove(doc_id)
            report.removed.append(doc_id)
    if writer.manifest.sentence_vectors:
        writer.fill_sentence_vectors()
    writer.flush()
    report.chunks_embedded = writer.chunks_embedded
    report.sentences_embedded = writer.sentences_embedded
    report.version = writer.manifest.version


def apply_changes(
    store: IndexStore,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    upserts: Sequence[Document] = (),
    removals: Sequence[str] = (),
    segment_chunks: int = SEGMENT_CHUNKS,
    lock_timeout: float = -1,
    validate: Validate | None = None,
    channel: Embedder | None = None,
) -> list[DocumentChange]:
    """Add or replace documents and delete others, published together under the write lock.

    One version is published, however many segments the documents fill: a failure midway
    publishes nothing.

    A doc_id to delete that is not indexed raises DocumentNotFound before anything changes.
    """
    with store.write_lock(lock_timeout):
        # New documents get sentence vectors when the index has them (manifest).
        writer = open_writer(
            store,
            embedder,
            chunking,
            segment_chunks=segment_chunks,
            publish_batches=False,
            validate=validate,
            channel=channel,
        )
        changes = []
        for doc_id in removals:
            entry = writer.writer_of(doc_id).manifest.documents.get(doc_id)
            if entry is None:
                raise DocumentNotFound(f"no document with doc_id {doc_id!r}", field="doc_id")
            writer.remove(doc_id)
            changes.append(DocumentChange(doc_id, "deleted", entry.chunks))
        for document in upserts:
            outcome = writer.add(document)
            entry = writer.writer_of(document.doc_id).manifest.documents[document.doc_id]
            changes.append(DocumentChange(document.doc_id, outcome, entry.chunks))
        writer.flush()
    return changes
