"""Sharded indexes: documents split by a stable hash of doc_id into N complete indexes.

Layout (a one-shard index is today's folder, index.store, with no top-level manifest)::

    INDEX_DIR/CURRENT                      name of the published top-level manifest
    INDEX_DIR/manifests/manifest-N.json    shard count, each shard's published manifest, and
                                           the collection's BM25 statistics (index.keyword)
    INDEX_DIR/shards/shard-K/              shard K: an index folder of today's format

A document's chunks and sentences live in shard `shard_of(doc_id, N)` (blake2b of the id, the
same on every run and machine). Each shard is written by today's IndexWriter and publishes into
its own folder; readers take the shards' versions the top-level manifest names, so a change
that touches several shards becomes visible at once, with the top-level manifest's one atomic
rename. The BM25 statistics are kept up to date by difference: each shard publish adds the
tokens of the documents it brought and takes away those of the documents it replaced or
removed, read back from their segments; compaction moves documents without changing them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from index.build import (
    SEGMENT_CHUNKS,
    ChunkingConfig,
    IndexWriter,
    Progress,
    StageOutcome,
)
from index.chunking import ChunkSpan
from index.documents import Document
from index.embedding import Embedder
from index.errors import IndexDamaged, IndexMismatch
from index.keyword import KeywordStatistics
from index.manifest import Manifest, ShardedManifest, shard_name
from index.store import SHARDS_DIR, IndexStore
from index.text import KEYWORD_TOKENIZER

# Checks a version about to be published (e.g. by loading it); raises to stop the publish.
ShardedValidate = Callable[[ShardedManifest], object]


def shard_of(doc_id: str, shards: int) -> int:
    """The shard holding doc_id: blake2b of its UTF-8 bytes, modulo the shard count."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_folder(root: Path, shard: int) -> Path:
    """Where shard `shard` of the index at root lives."""
    return root / SHARDS_DIR / shard_name(shard)


class ShardStore(IndexStore):
    """One shard's folder, whose published version is the one the top-level manifest names.

    The shard's own CURRENT is written too (the folder stays a complete index), but a shard
    publish that the top-level manifest never took up is not read: its writer starts from
    the named version again, and numbers its files after everything on disk.
    """

    def __init__(
        self,
        root: Path,
        pinned: str | None,
        on_publish: Callable[[ShardStore, Manifest], object] | None = None,
    ) -> None:
        super().__init__(root)
        self.pinned = pinned
        self.on_publish = on_publish

    def current_name(self) -> str | None:
        return self.pinned

    def exists(self) -> bool:
        return self.pinned is not None

    def publish(self, manifest: Manifest) -> None:
        # Garbage collection (in super().publish) keeps the pinned version's files: readers of
        # the top-level manifest still open them until the next top-level publish.
        super().publish(manifest)
        self.pinned = manifest.file_name
        if self.on_publish is not None:
            self.on_publish(self, manifest)


def read_sharded(store: IndexStore, name: str | None = None) -> ShardedManifest | None:
    """The top-level manifest of a sharded index (CURRENT's, or `name`); None for one index."""
    name = name or store.current_name()
    if name is None:
        return None
    version = store.read_version(name)
    return version if isinstance(version, ShardedManifest) else None


def shard_stores(store: IndexStore, top: ShardedManifest) -> list[ShardStore]:
    """Each shard's folder, at the version top names."""
    return [
        ShardStore(shard_folder(store.root, k), top.shard_manifests[k]) for k in range(top.shards)
    ]


def merged_manifest(parts: Sequence[Manifest | None], version: int) -> Manifest:
    """One manifest standing for all shards' (documents, model, settings) in listings.

    Its documents name segments of different shards: it is never published nor read back.
    """
    published = [p for p in parts if p is not None]
    first = published[0] if published else Manifest(version=0, model={}, chunking={})
    merged = Manifest(
        version=version,
        model=dict(first.model),
        chunking=dict(first.chunking),
        sentence_vectors=first.sentence_vectors,
        channel=dict(first.channel),
        vector_index=dict(first.vector_index),
        keyword_tokenizer=min((p.keyword_tokenizer for p in published), default=KEYWORD_TOKENIZER),
    )
    for part in published:
        merged.documents.update(part.documents)
    return merged


def published_manifest(store: IndexStore) -> Manifest | None:
    """The published version's manifest, the shards' merged for a sharded index."""
    top = read_sharded(store)
    if top is None:
        return store.read_manifest()
    parts = [
        None if shard.pinned is None else shard.read_manifest_named(shard.pinned)
        for shard in shard_stores(store, top)
    ]
    return merged_manifest(parts, top.version)


def shard_count(store: IndexStore) -> int:
    """How many shards the published index has (1 for one index or none published)."""
    top = read_sharded(store)
    return 1 if top is None else top.shards


def check_shard_count(store: IndexStore, shards: int | None) -> None:
    """IndexMismatch when an index is published with another shard count than `shards`."""
    if shards is None or not store.exists():
        return
    count = shard_count(store)
    if count != shards:
        raise IndexMismatch(
            f"the index has {count} shard{'s' if count > 1 else ''}, not {shards}; "
            f"`qa index --rebuild --shards {shards}` splits it again"
        )


class _Statistics:
    """The collection's BM25 statistics, changed document by document."""

    def __init__(self, start: KeywordStatistics) -> None:
        self.chunks = start.chunks
        self.tokens = start.tokens
        self.frequency: Counter[str] = Counter(start.document_frequency)

    def change(self, rows: Iterable[list[str]], sign: int) -> None:
        for tokens in rows:
            self.chunks += sign
            self.tokens += sign * len(tokens)
            for token in set(tokens):
                self.frequency[token] += sign

    def frozen(self) -> KeywordStatistics:
        frequency = {t: n for t, n in self.frequency.items() if n > 0}
        if any(n < 0 for n in self.frequency.values()) or self.chunks < 0:
            raise IndexDamaged("the sharded index's keyword statistics went negative")
        return KeywordStatistics(self.chunks, self.tokens, frequency)


def update_statistics(
    statistics: _Statistics, store: IndexStore, old: Manifest | None, new: Manifest
) -> None:
    """Take out the tokens of documents old held and new replaced or dropped; add new's own."""
    before = old.documents if old is not None else {}
    after = new.documents
    gone = {
        d: e for d, e in before.items() if d not in after or after[d].content_hash != e.content_hash
    }
    came = {
        d: e
        for d, e in after.items()
        if d not in before or before[d].content_hash != e.content_hash
    }
    statistics.change(store.read_tokens(gone), -1)
    statistics.change(store.read_tokens(came), +1)


class ShardedWriter:
    """IndexWriter's interface over N shards, each written by its own IndexWriter.

    A shard's publish updates the statistics; with publish_batches it is followed by a
    top-level publish (an interrupted `qa index` keeps its work), else the top level is
    published by flush() once every shard has published (one request, one version).
    validate: called with each top-level manifest before it is published (the shards' are
    on disk by then, not yet read by anyone).
    """

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        chunking: ChunkingConfig,
        shards: int,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
        segment_chunks: int = SEGMENT_CHUNKS,
        sentence_vectors: bool | None = None,
        publish_batches: bool = True,
        validate: ShardedValidate | None = None,
        channel: Embedder | None = None,
    ) -> None:
        if shards < 2:
            raise ValueError("a sharded index has at least two shards")
        self.store = store
        self.shards = shards
        self.publish_batches = publish_batches
        self.validate = validate
        top = None if rebuild else read_sharded(store)
        if top is None and not rebuild and store.exists():
            if store.current_name() is None:
                raise IndexDamaged(
                    "CURRENT is missing, though versions of the index are on disk; "
                    "`qa verify` lists them, `qa index --rebuild` starts again"
                )
            raise IndexMismatch(
                f"the index is one shard; `qa index --rebuild --shards {shards}` splits it"
            )
        if top is not None and top.shards != shards:
            raise IndexMismatch(
                f"the index has {top.shards} shards, not {shards}; "
                f"`qa index --rebuild --shards {shards}` splits it again"
            )
        names: list[str | None] = list(top.shard_manifests) if top else [None] * shards
        self.version = top.version if top is not None else store.highest_numbers()[0]
        self._statistics = _Statistics(top.statistics if top else KeywordStatistics())
        self.stores = [
            ShardStore(shard_folder(store.root, k), names[k], self._shard_published)
            for k in range(shards)
        ]
        # Each shard's version as of the last top-level publish: what its next one changes.
        self._last: list[Manifest | None] = [
            None if rebuild or s.pinned is None else s.read_manifest_named(s.pinned)
            for s in self.stores
        ]
        self._pending = False
        self._flushing = False
        self.writers = [
            IndexWriter(
                s,
                embedder,
                chunking,
                rebuild=rebuild,
                progress=progress,
                segment_chunks=segment_chunks,
                sentence_vectors=sentence_vectors,
                publish_batches=publish_batches,
                channel=channel,
            )
            for s in self.stores
        ]

    def writer_of(self, doc_id: str) -> IndexWriter:
        """The writer of the shard holding doc_id."""
        return self.writers[shard_of(doc_id, self.shards)]

    @property
    def manifest(self) -> Manifest:
        """The shards' manifests merged (documents, settings), as of now; read only."""
        return merged_manifest([w.manifest for w in self.writers], self.version)

    @property
    def chunks_embedded(self) -> int:
        return sum(w.chunks_embedded for w in self.writers)

    @property
    def sentences_embedded(self) -> int:
        return sum(w.sentences_embedded for w in self.writers)

    def status(self, document: Document) -> StageOutcome:
        """`added`, `updated` or `unchanged`, in the document's shard."""
        return self.writer_of(document.doc_id).status(document)

    def add(self, document: Document, spans: Sequence[ChunkSpan] | None = None) -> StageOutcome:
        """Stage a document in its shard unless it is unchanged; returns its status."""
        return self.writer_of(document.doc_id).add(document, spans)

    def remove(self, doc_id: str) -> bool:
        """Drop a document from its shard's next version; False when it is not indexed."""
        return self.writer_of(doc_id).remove(doc_id)

    def fill_sentence_vectors(self) -> list[str]:
        """Store sentence vectors for every shard's segments without them."""
        return [segment for w in self.writers for segment in w.fill_sentence_vectors()]

    def flush(self) -> int:
        """Flush every shard, then publish the top level once if any shard published."""
        self._flushing = True
        try:
            written = sum(w.flush() for w in self.writers)
        finally:
            self._flushing = False
        if self._pending:
            self._publish_top()
        return written

    def _shard_published(self, shard: ShardStore, manifest: Manifest) -> None:
        k = self.stores.index(shard)
        published = Manifest.from_json(manifest.to_json())  # the writer changes its own
        update_statistics(self._statistics, shard, self._last[k], published)
        self._last[k] = published
        self._pending = True
        # A batch published on the way (a shard's segment filled): readers get it now.
        if self.publish_batches and not self._flushing:
            self._publish_top()

    def _publish_top(self) -> None:
        top = ShardedManifest(
            version=self.version + 1,
            shards=self.shards,
            shard_manifests=[s.pinned for s in self.stores],
            statistics=self._statistics.frozen(),
        )
        if self.validate is not None:
            self.validate(top)
        self.store.publish_sharded(top)
        self.version = top.version
        self._pending = False
