"""One published version of the index, loaded in memory and never changed afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import DocumentNotFound, IndexDamaged, IndexMismatch
from index.keyword import KeywordIndex, KeywordStatistics
from index.language import detect_language
from index.manifest import Manifest, ShardedManifest, check_channel, check_keyword_tokens
from index.sentences import SentenceVectors
from index.sharded import KeywordPart, ServedShard, ShardedKeywords, ShardedVectors, VectorPart
from index.shards import ShardStore, merged_manifest, shard_stores
from index.store import Chunk, IndexStore, StoredDocument, segment_number
from index.vectors import VectorIndex, VectorIndexSpec


@dataclass(frozen=True)
class ShardVersion:
    """A shard's folder at the version read, its chunk rows, and whether it stores channel
    vectors (from the manifest this process read, so a shard source need not read it again)."""

    store: ShardStore
    rows: int
    channel: bool


# Serves a version's shards' vectors, BM25 and channel vectors elsewhere (index.shard_actors):
# given each shard's version and the collection's BM25 statistics, where each shard is
# answered; None keeps them in this process.
ShardSource = Callable[[list[ShardVersion], KeywordStatistics], list[ServedShard]]

# A sharded snapshot's chunk ids carry the shard above the segment number (index.store's
# chunk_id), so that ids and stored sentence vectors stay apart across shards.
SHARD_SHIFT = 24


@dataclass(frozen=True)
class IndexSnapshot:
    """Documents, chunks and their vectors as of one manifest version; safe to share."""

    manifest: Manifest
    manifest_name: str | None
    documents: dict[str, StoredDocument]
    chunks: list[Chunk]
    vectors: VectorIndex | ShardedVectors
    keywords: KeywordIndex | ShardedKeywords
    # Stored sentence vectors of the segments that have them (`qa index --sentence-vectors`).
    sentences: SentenceVectors = field(default_factory=SentenceVectors)
    # The multilingual channel's chunk vectors, row for row with `vectors` (None: channel off).
    channel: VectorIndex | ShardedVectors | None = None
    # Each document's language (ISO 639-1), by doc_id.
    languages: dict[str, str] = field(default_factory=dict)
    # A sharded index's shards, each a snapshot of its own (rows are numbered in this order).
    shards: tuple[IndexSnapshot, ...] = ()

    @property
    def version(self) -> int:
        return self.manifest.version

    def document(self, doc_id: str) -> StoredDocument:
        """The document with that id, or DocumentNotFound."""
        try:
            return self.documents[doc_id]
        except KeyError:
            raise DocumentNotFound(f"no document with doc_id {doc_id!r}", field="doc_id") from None

    def text(self, doc_id: str, start: int, end: int) -> str:
        """The exact characters [start, end) of a document."""
        return self.documents[doc_id].text[start:end]

    def chunk_text(self, chunk: Chunk) -> str:
        """The chunk's text, a slice of its document."""
        return self.text(chunk.doc_id, chunk.start, chunk.end)

    def idf(self, term: str) -> float:
        """Inverse chunk frequency of a keyword token."""
        return self.keywords.idf(term)

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The k chunks most similar to a unit query vector, best first."""
        scores, rows = self.vectors.search(query_vector, k)
        return [
            (self.chunks[int(row)], float(score))
            for score, row in zip(scores[0], rows[0], strict=True)
            if row >= 0
        ]


# Readers retry when a writer's garbage collection removes files of the version they just read.
LOAD_ATTEMPTS = 5


def load_snapshot(
    store: IndexStore,
    dimensions: int,
    model: dict[str, Any] | None = None,
    chunking: dict[str, int] | None = None,
    name: str | None = None,
    channel: dict[str, Any] | None = None,
    vectors: ShardSource | None = None,
) -> IndexSnapshot:
    """Read the published version of the index (an empty one when nothing is published).

    vectors: where a sharded index's shards' vectors and BM25 are served (None: here).

    With `model`, an index whose vectors another model made, or (with `chunking`) whose chunks
    were cut another way than configured, or (with `channel`) whose multilingual channel
    another model made, is refused with IndexMismatch; a version with
    missing or truncated files with IndexDamaged. `name`: that manifest instead of CURRENT's.
    Writers keep the previous version's files, so a vanished file means two versions were
    published meanwhile: read CURRENT again and retry.
    """
    if name is not None:
        try:
            return _load_version(store, name, dimensions, model, chunking, channel, vectors)
        except FileNotFoundError as exc:
            raise _missing(store, name, exc) from exc
    for attempt in range(LOAD_ATTEMPTS):
        current = store.current_name()
        if current is None and store.manifest_names():
            raise IndexDamaged("CURRENT is missing, though versions of the index are on disk")
        try:
            return _load_version(store, current, dimensions, model, chunking, channel, vectors)
        except FileNotFoundError as exc:
            if attempt == LOAD_ATTEMPTS - 1 or store.current_name() == current:
                raise _missing(store, current, exc) from exc
    raise AssertionError("unreachable")


def _missing(store: IndexStore, name: str | None, exc: FileNotFoundError) -> IndexDamaged:
    path = Path(str(exc.filename or "a file"))
    shown = path.relative_to(store.root) if path.is_relative_to(store.root) else path.name
    return IndexDamaged(f"version {name}: {shown} is missing")


def _load_version(
    store: IndexStore,
    name: str | None,
    dimensions: int,
    model: dict[str, Any] | None,
    chunking: dict[str, int] | None,
    channel: dict[str, Any] | None = None,
    vectors: ShardSource | None = None,
) -> IndexSnapshot:
    if name is None:
        return snapshot_of(store, Manifest(version=0, model={}, chunking={}), None, dimensions)
    version = store.read_version(name)
    if isinstance(version, ShardedManifest):
        return sharded_snapshot(store, version, dimensions, model, chunking, channel, vectors)
    if vectors is not None:
        raise IndexMismatch(
            "the index is one shard: serving it from shard actors needs `qa index --rebuild "
            "--shards N`"
        )
    _check(version, model, chunking, channel)
    return snapshot_of(store, version, name, dimensions)


def _check(
    manifest: Manifest,
    model: dict[str, Any] | None,
    chunking: dict[str, int] | None,
    channel: dict[str, Any] | None,
) -> None:
    if model is not None:
        manifest.check_compatible(model, manifest.chunking if chunking is None else chunking)
    check_channel(manifest.channel, channel)


def version_snapshot(
    store: IndexStore,
    manifest: Manifest | ShardedManifest,
    dimensions: int,
    vectors: ShardSource | None = None,
) -> IndexSnapshot:
    """The version a writer is about to publish, loaded (a copy: the writer goes on changing
    its manifest)."""
    if isinstance(manifest, ShardedManifest):
        return sharded_snapshot(store, manifest, dimensions, vectors=vectors)
    copy = Manifest.from_json(manifest.to_json())
    return snapshot_of(store, copy, copy.file_name, dimensions)


def sharded_snapshot(
    store: IndexStore,
    top: ShardedManifest,
    dimensions: int,
    model: dict[str, Any] | None = None,
    chunking: dict[str, int] | None = None,
    channel: dict[str, Any] | None = None,
    vectors: ShardSource | None = None,
) -> IndexSnapshot:
    """Every shard's version that the top-level manifest names, loaded and read as one.

    vectors: where each shard's vectors and BM25 are served (not loaded here then); None: here.
    """
    parts = []
    shards = shard_stores(store, top)
    for shard in shards:
        if shard.pinned is None:
            parts.append(_empty_shard(dimensions, top.statistics))
            continue
        manifest = shard.read_manifest_named(shard.pinned)
        _check(manifest, model, chunking, channel)
        parts.append(
            snapshot_of(shard, manifest, shard.pinned, dimensions, top.statistics, vectors is None)
        )
    served = None
    if vectors is not None:
        served = vectors(
            [
                ShardVersion(shard, len(part.chunks), bool(part.manifest.channel))
                for shard, part in zip(shards, parts, strict=True)
            ],
            top.statistics,
        )
    return merge_shards(top, parts, dimensions, served)


def _empty_shard(dimensions: int, statistics: KeywordStatistics) -> IndexSnapshot:
    empty = Manifest(version=0, model={}, chunking={})
    return IndexSnapshot(empty, None, {}, [], VectorIndex(dimensions), KeywordIndex([], statistics))


def merge_shards(
    top: ShardedManifest,
    parts: list[IndexSnapshot],
    dimensions: int,
    served: list[ServedShard] | None = None,
) -> IndexSnapshot:
    """One snapshot over the shards' snapshots: rows shard after shard, search over all.

    served: where each shard's vectors, BM25 and channel are answered when not in its snapshot
    (index.shard_actors).
    """
    chunks: list[Chunk] = []
    documents: dict[str, StoredDocument] = {}
    languages: dict[str, str] = {}
    sentences: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, part in enumerate(parts):
        chunks.extend(replace(c, id=c.id | (k << (32 + SHARD_SHIFT))) for c in part.chunks)
        documents.update(part.documents)
        languages.update(part.languages)
        sentences.update(
            ((k << SHARD_SHIFT) | number, stored)
            for number, stored in part.sentences.segments.items()
        )
    vectors: list[VectorPart] = [_one_index(p.vectors) for p in parts]
    keywords: list[KeywordPart] = [_one_keywords(p.keywords) for p in parts]
    channels: list[VectorPart | None] = [
        None if p.channel is None else _one_index(p.channel) for p in parts
    ]
    if served is not None:
        vectors = [s.vectors for s in served]
        keywords = [s.keywords for s in served]
        channels = [s.channel for s in served]
    published = [p.manifest for p in parts if p.manifest_name is not None]
    manifest = merged_manifest(published, top.version)
    channel = None
    whole = all(c is not None for c, p in zip(channels, parts, strict=True) if p.chunks)
    if manifest.channel and whole:
        size = int(manifest.channel["dimensions"])
        channel = ShardedVectors([VectorIndex(size) if c is None else c for c in channels], size)
    return IndexSnapshot(
        manifest,
        top.file_name,
        documents,
        chunks,
        ShardedVectors(vectors, dimensions),
        ShardedKeywords(keywords, top.statistics),
        SentenceVectors(sentences),
        channel,
        languages,
        tuple(parts),
    )


def _one_index(vectors: VectorIndex | ShardedVectors) -> VectorIndex:
    if not isinstance(vectors, VectorIndex):
        raise TypeError("a shard is one index")
    return vectors


def _one_keywords(keywords: KeywordIndex | ShardedKeywords) -> KeywordIndex:
    if not isinstance(keywords, KeywordIndex):
        raise TypeError("a shard is one index")
    return keywords


def snapshot_of(
    store: IndexStore,
    manifest: Manifest,
    name: str | None,
    dimensions: int,
    statistics: KeywordStatistics | None = None,
    with_vectors: bool = True,
) -> IndexSnapshot:
    """The version `manifest` describes, loaded from the store's segments.

    statistics: the collection's BM25 statistics when this index is one shard of it;
    with_vectors: False leaves its vector, keyword and channel indexes empty (a shard actor
    serves them).
    """
    parts: list[np.ndarray] = []
    documents: dict[str, StoredDocument] = {}
    chunks: list[Chunk] = []
    tokens: list[list[str]] = []
    sentences: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    channel_parts: list[np.ndarray] = []
    reading = {} if with_vectors else {"with_vectors": False}
    for segment in manifest.segments:
        seg_docs, seg_chunks, seg_vectors, seg_tokens = store.read_segment(
            segment, manifest.documents, manifest.segment_records.get(segment), **reading
        )
        documents.update((d.doc_id, d) for d in seg_docs)
        chunks.extend(seg_chunks)
        if with_vectors:
            parts.append(seg_vectors)
        del seg_vectors
        if with_vectors:
            tokens.extend(seg_tokens)
        del seg_tokens
        stored = store.open_sentence_vectors(segment)
        if stored is not None:
            sentences[segment_number(segment)] = stored
        if manifest.channel:
            # Read here, or only checked to be whole when a shard actor serves them.
            channel_parts.append(store.channel_rows(segment, seg_chunks if with_vectors else []))
    matrix = np.vstack(parts) if parts else np.zeros((0, dimensions), np.float32)
    del parts  # at a million chunks each copy is 1.5 GB
    spec = VectorIndexSpec.from_dict(manifest.vector_index)
    vectors = (
        VectorIndex.build(dimensions, matrix, spec) if with_vectors else VectorIndex(dimensions)
    )
    channel = _channel_index(manifest, channel_parts, spec) if with_vectors else None
    languages = {
        doc_id: manifest.documents[doc_id].language or detect_language(document.text)
        for doc_id, document in documents.items()
    }
    check_keyword_tokens(manifest, languages)
    return IndexSnapshot(
        manifest,
        name,
        documents,
        chunks,
        vectors,
        KeywordIndex(tokens, statistics),
        SentenceVectors(sentences),
        channel,
        languages,
    )


def shard_indexes(
    store: IndexStore,
    manifest: Manifest,
    dimensions: int,
    statistics: KeywordStatistics,
    with_vectors: bool = True,
) -> tuple[VectorIndex, KeywordIndex, VectorIndex | None]:
    """A shard's vector index, its BM25 with the collection's statistics and its channel's
    vector index (None without a channel), read from its segments: what a shard actor holds
    (index.shard_actors). Without with_vectors, only the BM25."""
    parts: list[np.ndarray] = []
    tokens: list[list[str]] = []
    channel_parts: list[np.ndarray] = []
    reading = {} if with_vectors else {"with_vectors": False}
    for segment in manifest.segments:
        _, seg_chunks, seg_vectors, seg_tokens = store.read_segment(
            segment, manifest.documents, manifest.segment_records.get(segment), **reading
        )
        if with_vectors:
            parts.append(seg_vectors)
            if manifest.channel:
                channel_parts.append(store.channel_rows(segment, seg_chunks))
        del seg_vectors, seg_chunks
        tokens.extend(seg_tokens)
    vectors, channel = VectorIndex(dimensions), None
    if with_vectors:
        matrix = np.vstack(parts) if parts else np.zeros((0, dimensions), np.float32)
        del parts
        spec = VectorIndexSpec.from_dict(manifest.vector_index)
        vectors = VectorIndex.build(dimensions, matrix, spec)
        channel = _channel_index(manifest, channel_parts, spec)
    return vectors, KeywordIndex(tokens, statistics), channel


def _channel_index(
    manifest: Manifest, parts: list[np.ndarray], spec: VectorIndexSpec
) -> VectorIndex | None:
    """The multilingual channel's vector index of these segment rows (None: no channel)."""
    if not manifest.channel:
        return None
    size = int(manifest.channel["dimensions"])
    matrix = np.vstack(parts) if parts else np.zeros((0, size), np.float32)
    return VectorIndex.build(size, matrix, spec)
