"""The manifest: one published version of the index, and the one place its JSON is written and read.

A manifest names the model and chunking the index was built with and, for each live document,
the segment holding it. `encode_manifest` and `decode_manifest` are its only (de)serialisers;
`IndexStore` stores the bytes and never looks inside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from index.errors import IndexDamaged, IndexMismatch
from index.keyword import KeywordStatistics
from index.text import KEYWORD_TOKENIZER

FORMAT_VERSION = 3
# The top-level manifest of an index split into shards (index.shards); a one-shard index has none.
SHARDED_FORMAT = 4


@dataclass
class DocumentEntry:
    """The manifest's record of one live document."""

    segment: str
    content_hash: str
    title: str
    chars: int
    chunks: int
    # ISO 639-1 code of the text's language (index.language); "" in indexes made before.
    language: str = ""

    def to_json(self) -> dict[str, Any]:
        """The entry as written in the manifest."""
        return {
            "segment": self.segment,
            "sha256": self.content_hash,
            "title": self.title,
            "chars": self.chars,
            "chunks": self.chunks,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentEntry:
        """Read an entry written by to_json."""
        return cls(
            segment=data["segment"],
            content_hash=data["sha256"],
            title=data["title"],
            chars=data["chars"],
            chunks=data["chunks"],
            language=str(data.get("language", "")),
        )


@dataclass(frozen=True)
class SegmentRecord:
    """What a segment held when it was published: its rows, documents and each file's sha256.

    Loading checks the counts (cheap: the files are read anyway); `qa verify` the checksums.
    """

    rows: int
    documents: int
    sha256: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "documents": self.documents, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentRecord:
        return cls(rows=data["rows"], documents=data["documents"], sha256=dict(data["sha256"]))


@dataclass
class Manifest:
    """One published version of the index."""

    version: int
    model: dict[str, Any]
    chunking: dict[str, int]
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    next_segment: int = 1
    # Which FAISS index readers build (index.vectors.VectorIndexSpec); empty means exact.
    vector_index: dict[str, Any] = field(default_factory=dict)
    # New segments get stored sentence vectors (index.sentences), so answers embed no sentence.
    sentence_vectors: bool = False
    # Each live segment's record, filled in by IndexStore.publish (absent in older indexes).
    segment_records: dict[str, SegmentRecord] = field(default_factory=dict)
    # The multilingual channel's model (index.multilingual) when every segment stores its
    # chunk vectors; empty when the channel is off.
    channel: dict[str, Any] = field(default_factory=dict)
    # The version of index.text.tokenize that made the stored keyword tokens (1: before it
    # was recorded).
    keyword_tokenizer: int = KEYWORD_TOKENIZER

    @property
    def segments(self) -> list[str]:
        """The segments holding at least one live document."""
        return sorted({entry.segment for entry in self.documents.values()})

    @property
    def file_name(self) -> str:
        """The name this version is published under in the manifests folder."""
        return f"manifest-{self.version:08d}.json"

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to disk."""
        return {
            "format": FORMAT_VERSION,
            "version": self.version,
            "model": self.model,
            "chunking": self.chunking,
            "next_segment": self.next_segment,
            "segments": self.segments,
            "vector_index": self.vector_index,
            "sentence_vectors": self.sentence_vectors,
            "channel": self.channel,
            "keyword_tokenizer": self.keyword_tokenizer,
            "segment_records": {
                name: record.to_json()
                for name, record in sorted(self.segment_records.items())
                if name in set(self.segments)
            },
            "documents": {doc_id: e.to_json() for doc_id, e in self.documents.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Read a manifest written by to_json."""
        if data.get("format") == SHARDED_FORMAT:
            # A reader or writer of one index folder must never take a sharded one for empty.
            raise IndexMismatch(
                f"the index is split into {data.get('shards')} shards: it is read and written "
                "through its top-level manifest (index.shards)"
            )
        if data.get("format") != FORMAT_VERSION:
            raise IndexMismatch(
                f"index format {data.get('format')} is not {FORMAT_VERSION}; rebuild the index"
            )
        return cls(
            version=data["version"],
            model=data["model"],
            chunking=data["chunking"],
            documents={
                doc_id: DocumentEntry.from_json(e) for doc_id, e in data["documents"].items()
            },
            next_segment=data["next_segment"],
            vector_index=data.get("vector_index") or {},
            sentence_vectors=bool(data.get("sentence_vectors", False)),
            channel=dict(data.get("channel") or {}),
            keyword_tokenizer=int(data.get("keyword_tokenizer", 1)),
            segment_records={
                name: SegmentRecord.from_json(r)
                for name, r in (data.get("segment_records") or {}).items()
            },
        )

    def check_compatible(self, model: dict[str, Any], chunking: dict[str, int]) -> None:
        """Raise IndexMismatch unless vectors and chunks were made the way now configured."""
        built = (self.model.get("name"), self.model.get("dimensions"))
        wanted = (model.get("name"), model.get("dimensions"))
        if built != wanted:
            raise IndexMismatch(
                f"the index was built with model {built[0]!r} ({built[1]} dimensions) but "
                f"{wanted[0]!r} ({wanted[1]} dimensions) is configured; rebuild it "
                "(`qa index --rebuild`) or configure the model it was built with"
            )
        built_runtime, wanted_runtime = _runtime(self.model), _runtime(model)
        if built_runtime[:2] == wanted_runtime[:2] and built_runtime != wanted_runtime:
            raise IndexMismatch(
                f"the index's {built_runtime[1]} vectors come from quantisation recipe "
                f"{built_runtime[2]} but this version makes {wanted_runtime[2]}; rebuild it "
                "(`qa index --rebuild`)"
            )
        if built_runtime != wanted_runtime:
            raise IndexMismatch(
                f"the index was built with runtime {built_runtime[0]!r} (quantization "
                f"{_quantization(built_runtime)}) but {wanted_runtime[0]!r} (quantization "
                f"{_quantization(wanted_runtime)}) is configured; rebuild it (`qa index "
                "--rebuild`) or configure the runtime it was built with "
                f"(QA_EMBED_RUNTIME={built_runtime[0]} QA_EMBED_QUANTIZATION={built_runtime[1]})"
            )
        if self.chunking != chunking:
            raise IndexMismatch(
                f"the index was built with chunking {self.chunking} but {chunking} is "
                "configured; rebuild it (`qa index --rebuild`) or configure the same chunking"
            )


@dataclass
class ShardedManifest:
    """One published version of a sharded index: each shard's published manifest (None for a
    shard that has never held a document) and the whole collection's BM25 statistics."""

    version: int
    shards: int
    shard_manifests: list[str | None]
    statistics: KeywordStatistics = field(default_factory=KeywordStatistics)

    @property
    def file_name(self) -> str:
        """The name this version is published under in the index's manifests folder."""
        return f"manifest-{self.version:08d}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SHARDED_FORMAT,
            "version": self.version,
            "shards": self.shards,
            "shard_manifests": self.shard_manifests,
            # The top-level folder's own segments: none (garbage collection reads this key).
            "segments": [],
            "keyword_statistics": self.statistics.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardedManifest:
        names = [None if n is None else str(n) for n in data["shard_manifests"]]
        if len(names) != int(data["shards"]):
            raise ValueError("one manifest name per shard")
        return cls(
            version=int(data["version"]),
            shards=int(data["shards"]),
            shard_manifests=names,
            statistics=KeywordStatistics.from_json(data["keyword_statistics"]),
        )


# Languages written with CJK characters: the only text whose tokens tokenizer 2 changed.
CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})


def check_keyword_tokens(manifest: Manifest, languages: dict[str, str]) -> None:
    """Raise IndexMismatch when the stored keyword tokens of some document (by its language,
    "" when unknown) would differ from today's tokenizer's.

    Tokenizer 2 only changed text with CJK characters, so an older index of other languages
    is still exact (and is marked current when next published).
    """
    if manifest.keyword_tokenizer == KEYWORD_TOKENIZER:
        return
    stale = sorted(d for d, language in languages.items() if language in CJK_LANGUAGES | {""})
    if stale:
        raise IndexMismatch(
            f"the index's keyword tokens were made by tokenizer {manifest.keyword_tokenizer}, "
            f"which read letters or digits next to CJK characters as one word (documents such "
            f"as {stale[0]!r}); rebuild it (`qa index --rebuild`)"
        )


def check_channel(built: dict[str, Any], wanted: dict[str, Any] | None) -> None:
    """Raise IndexMismatch when the index's channel vectors come from another channel model.

    An index without channel vectors is compatible with any (they are added, or not used).
    """
    if not built or not wanted:
        return
    key = ("name", "dimensions")
    if [built.get(k) for k in key] != [wanted.get(k) for k in key]:
        raise IndexMismatch(
            f"the index's multilingual channel was built with {built.get('name')!r} but "
            f"{wanted.get('name')!r} is configured; rebuild it (`qa index --rebuild`), "
            "configure the model it was built with, or turn the channel off"
        )


def _runtime(model: dict[str, Any]) -> tuple[str, str, int | None]:
    """The runtime, quantisation and its recipe a model dict names (torch, none: before runtimes
    existed; recipe 2 for int8 indexes from before the recipe was recorded)."""
    quantization = str(model.get("quantization", "none"))
    recipe = None if quantization == "none" else int(model.get("quantize_version", 2))
    return str(model.get("runtime", "torch")), quantization, recipe


def _quantization(runtime: tuple[str, str, int | None]) -> str:
    """How a message names a quantisation: `none`, or `int8, recipe 3`."""
    return runtime[1] if runtime[2] is None else f"{runtime[1]}, recipe {runtime[2]}"


def new_manifest(model: dict[str, Any], chunking: dict[str, int]) -> Manifest:
    """An empty manifest for a new index."""
    return Manifest(version=0, model=model, chunking=chunking)


def encode_manifest(manifest: Manifest) -> bytes:
    """The bytes of a manifest file."""
    return json.dumps(manifest.to_json(), ensure_ascii=False, indent=1).encode("utf-8")


def decode_manifest(text: str, source: str) -> Manifest:
    """A manifest from its file's text; IndexDamaged naming `source` when it is damaged."""
    try:
        return Manifest.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexDamaged(f"manifest {source} is unreadable ({type(exc).__name__})") from exc


def encode_sharded(manifest: ShardedManifest) -> bytes:
    """The bytes of a top-level manifest file."""
    return json.dumps(manifest.to_json(), ensure_ascii=False, indent=1).encode("utf-8")


def decode_version(text: str, source: str) -> Manifest | ShardedManifest:
    """A one-shard or top-level manifest from its file's text; IndexDamaged when damaged."""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("format") == SHARDED_FORMAT:
            return ShardedManifest.from_json(data)
        return Manifest.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexDamaged(f"manifest {source} is unreadable ({type(exc).__name__})") from exc


def shard_name(shard: int) -> str:
    """The folder of shard `shard` in a sharded index's shards folder (index.shards)."""
    return f"shard-{shard:03d}"


def referenced_shards(text: str) -> list[str]:
    """The shard folders a manifest file's version reads: none for one index."""
    data = json.loads(text)
    if data.get("format") != SHARDED_FORMAT:
        return []
    return [shard_name(k) for k in range(int(data["shards"]))]


def referenced_segments(text: str) -> list[str]:
    """The segments a manifest file names, read without checking its format version.

    Garbage collection must keep what any kept manifest uses, even one of another format.
    """
    return list(json.loads(text)["segments"])
