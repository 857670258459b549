"""The index folder: immutable segments, a manifest naming the live ones, published atomically.

Layout::

    INDEX_DIR/CURRENT                       name of the published manifest (replaced atomically)
    INDEX_DIR/manifests/manifest-N.json     model, chunking, and each live document's segment
    INDEX_DIR/segments/seg-N/vectors.npy    one float32 row per chunk
    INDEX_DIR/segments/seg-N/chunks.jsonl   chunk offsets and sentence spans, row order
    INDEX_DIR/segments/seg-N/tokens.jsonl   each chunk's keyword tokens, row order
    INDEX_DIR/segments/seg-N/documents.jsonl  the documents' text, title and metadata
    INDEX_DIR/segments/seg-N/sentences.npy  optional: one float16 row per sentence of each chunk
    INDEX_DIR/segments/seg-N/sentence_offsets.npy  chunk row r's sentences: rows offsets[r]:[r+1]
    INDEX_DIR/segments/seg-N/channel.npy    optional: one float16 row per chunk, multilingual model

A chunk is live when the manifest maps its document to the chunk's segment, so replacing or
deleting a document never rewrites other segments and never embeds anything again. Files are
written, flushed and fsynced before the rename that publishes them; a reader that opens CURRENT
sees one whole version. Nothing is pickled. Sentence vectors may be added to a published
segment later (index.sentences); the offsets file is renamed into place last, so a reader that
finds it finds the vectors too. Channel vectors (index.multilingual) likewise, one file renamed
into place; the manifest says when every live segment has them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from filelock import FileLock, Timeout

from index.documents import Document
from index.errors import IndexBusy, IndexDamaged
from index.manifest import (
    DocumentEntry,
    Manifest,
    SegmentRecord,
    ShardedManifest,
    decode_manifest,
    decode_version,
    encode_manifest,
    encode_sharded,
    referenced_segments,
    referenced_shards,
)

logger = logging.getLogger(__name__)
# What a manifest decoder returns: one index's manifest, or either kind.
_Decoded = TypeVar("_Decoded")

CURRENT = "CURRENT"
SENTENCES = "sentences.npy"
SENTENCE_OFFSETS = "sentence_offsets.npy"
CHANNEL = "channel.npy"
VECTORS, CHUNKS, TOKENS, DOCUMENTS = (
    "vectors.npy",
    "chunks.jsonl",
    "tokens.jsonl",
    "documents.jsonl",
)
# A sharded index's shard folders (index.shards), each an index folder of its own.
SHARDS_DIR = "shards"
SEGMENT_FILES = (VECTORS, CHUNKS, TOKENS, DOCUMENTS, SENTENCES, SENTENCE_OFFSETS, CHANNEL)
_NUMBERED = re.compile(r"(?:manifest|seg)-(\d+)")


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    """Newline-terminated lines of a file (a cut last line is not counted)."""
    lines = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: text[start:end], made of whole sentences."""

    id: int
    doc_id: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class StoredDocument:
    """A document as indexed."""

    doc_id: str
    title: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    chunk_count: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _save_durably(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _sentence_rows(vectors: np.ndarray) -> np.ndarray:
    # Half precision: cosines move by under 1e-3 and the file is half the size.
    return np.ascontiguousarray(vectors, dtype=np.float16)


def _channel_rows(vectors: np.ndarray, rows: int) -> np.ndarray:
    if vectors.shape[0] != rows:
        raise ValueError(f"{vectors.shape[0]} channel vectors for {rows} chunk rows")
    return _sentence_rows(vectors)


def _sentence_offsets(vectors: np.ndarray, offsets: np.ndarray, rows: int) -> np.ndarray:
    offsets = np.asarray(offsets, dtype=np.int64)
    if offsets.shape != (rows + 1,) or offsets[0] != 0 or offsets[-1] != len(vectors):
        raise ValueError("sentence offsets must run from 0 to the number of sentence vectors")
    return offsets


# A segment's records: each written and read by one pair of functions.
def _chunk_record(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "start": chunk.start,
        "end": chunk.end,
        "sentences": chunk.sentences,
    }


def _chunk_from_record(record: dict[str, Any]) -> Chunk:
    return Chunk(
        id=record["id"],
        doc_id=record["doc_id"],
        start=record["start"],
        end=record["end"],
        sentences=tuple((s, e) for s, e in record["sentences"]),
    )


def _document_record(document: Document) -> dict[str, Any]:
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "text": document.text,
        "metadata": document.metadata,
        "sha256": document.content_hash,
    }


def _stored_document(record: dict[str, Any], chunk_count: int) -> StoredDocument:
    return StoredDocument(
        doc_id=record["doc_id"],
        title=record["title"],
        text=record["text"],
        metadata=record["metadata"],
        content_hash=record["sha256"],
        chunk_count=chunk_count,
    )


def _jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def chunk_id(segment_number: int, row: int) -> int:
    """A chunk id unique across segments: the segment number in the high 32 bits."""
    return (segment_number << 32) | row


def split_chunk_id(chunk: int) -> tuple[int, int]:
    """(segment number, row in the segment) of a chunk id."""
    return chunk >> 32, chunk & 0xFFFFFFFF


def _number(name: str) -> int:
    match = _NUMBERED.fullmatch(name.removesuffix(".json"))
    return int(match.group(1)) if match else 0


def segment_number(name: str) -> int:
    """The number in a segment's name `seg-N`."""
    return int(name.split("-", 1)[1])


class IndexStore:
    """Reads and publishes the versions of one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # Segments this store wrote or changed: their records are computed again at publish.
        self._changed: set[str] = set()

    @property
    def segments_dir(self) -> Path:
        return self.root / "segments"

    @property
    def manifests_dir(self) -> Path:
        return self.root / "manifests"

    @contextmanager
    def write_lock(self, timeout: float = -1) -> Iterator[None]:
        """Serialise writers across processes; IndexBusy after `timeout` seconds (-1: wait)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusy(
                f"another writer has held the index for over {timeout:g} s; retry later"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def current_name(self) -> str | None:
        """The published manifest's file name, or None for an empty folder."""
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def exists(self) -> bool:
        """True when a version has been published (even if CURRENT has since been lost)."""
        return self.current_name() is not None or bool(self.manifest_names())

    def manifest_names(self) -> list[str]:
        """The manifest files present, oldest version first."""
        if not self.manifests_dir.is_dir():
            return []
        return sorted(p.name for p in self.manifests_dir.glob("manifest-*.json"))

    def highest_numbers(self) -> tuple[int, int]:
        """The highest manifest version and segment number in the folder (0 when none).

        A writer that starts without a published manifest numbers after these, so it never
        overwrites the files of versions that are still on disk.
        """
        versions = [_number(name) for name in self.manifest_names()]
        segments = []
        if self.segments_dir.is_dir():
            segments = [
                _number(p.name.strip(".").removesuffix(".tmp")) for p in self.segments_dir.iterdir()
            ]
        return max(versions, default=0), max(segments, default=0)

    def read_manifest(self) -> Manifest | None:
        """The published manifest, or None when nothing is published."""
        name = self.current_name()
        return None if name is None else self.read_manifest_named(name)

    def read_manifest_named(self, name: str) -> Manifest:
        """One manifest by file name; FileNotFoundError when garbage collection removed it."""
        return self._decoded(name, decode_manifest)

    def read_version(self, name: str) -> Manifest | ShardedManifest:
        """One manifest by file name, of one index or of a sharded one's top level."""
        return self._decoded(name, decode_version)

    def _decoded(self, name: str, decode: Callable[[str, str], _Decoded]) -> _Decoded:
        """A manifest file decoded by `decode`, logging one that is unreadable."""
        text = self._manifest_text(name)
        try:
            return decode(text, name)
        except IndexDamaged as exc:
            logger.error("index manifest %s is unreadable: %s", name, exc.__cause__)
            raise

    def _manifest_text(self, name: str) -> str:
        path = self.manifests_dir / name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            logger.error("index manifest %s is unreadable: %s", path, exc)
            raise IndexDamaged(f"manifest {name} is unreadable ({type(exc).__name__})") from exc

    def segment_rows(self, name: str) -> int:
        """How many chunks, live or dead, a segment holds (from the vectors file's header)."""
        vectors = np.load(self.segments_dir / name / "vectors.npy", mmap_mode="r")
        return int(vectors.shape[0])

    def add_sentence_vectors(self, name: str, vectors: np.ndarray, offsets: np.ndarray) -> None:
        """Store sentence vectors beside a published segment's chunks (vectors first)."""
        folder = self.segments_dir / name
        rows = self.segment_rows(name)
        for file, array in (
            (SENTENCES, _sentence_rows(vectors)),
            (SENTENCE_OFFSETS, _sentence_offsets(vectors, offsets, rows)),
        ):
            staging = folder / f".{file}.tmp"
            _save_durably(staging, array)
            os.replace(staging, folder / file)
        _fsync_dir(folder)
        self._changed.add(name)

    def has_sentence_vectors(self, name: str) -> bool:
        """True when the segment stores sentence vectors."""
        return (self.segments_dir / name / SENTENCE_OFFSETS).is_file()

    def open_sentence_vectors(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(vectors memory-mapped, offsets) of a segment, or None when it has none."""
        folder = self.segments_dir / name
        try:
            offsets = np.load(folder / SENTENCE_OFFSETS, allow_pickle=False)
        except FileNotFoundError:
            return None
        vectors = np.load(folder / SENTENCES, mmap_mode="r", allow_pickle=False)
        return vectors, offsets

    def add_channel_vectors(self, name: str, vectors: np.ndarray) -> None:
        """Store (or replace) the multilingual channel's vectors of a segment's chunk rows."""
        folder = self.segments_dir / name
        array = _channel_rows(vectors, self.segment_rows(name))
        staging = folder / f".{CHANNEL}.tmp"
        _save_durably(staging, array)
        os.replace(staging, folder / CHANNEL)
        _fsync_dir(folder)
        self._changed.add(name)

    def open_channel_vectors(self, name: str) -> np.ndarray | None:
        """A segment's channel vectors, memory-mapped, one row per chunk row; None if absent."""
        try:
            return np.load(self.segments_dir / name / CHANNEL, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None

    def channel_rows(self, name: str, chunks: Sequence[Chunk]) -> np.ndarray:
        """The channel vectors of chunks of a segment, in order; IndexDamaged when missing."""
        stored = self.open_channel_vectors(name)
        if stored is None or len(stored) != self.segment_rows(name):
            raise IndexDamaged(
                f"segment {name}: the multilingual channel's vectors are missing or cut "
                "(`qa index --rebuild`)"
            )
        rows = np.fromiter((split_chunk_id(c.id)[1] for c in chunks), np.int64, len(chunks))
        return np.asarray(stored[rows], dtype=np.float32)

    def write_segment(
        self,
        number: int,
        documents: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        tokens: Sequence[Sequence[str]],
        sentences: tuple[np.ndarray, np.ndarray] | None = None,
        channel: np.ndarray | None = None,
    ) -> str:
        """Write a complete segment under a temporary name, then rename it into place.

        `sentences`: optional (sentence vectors, offsets), see index.sentences; `channel`:
        optional multilingual channel vectors, one row per chunk.
        """
        name = f"seg-{number:08d}"
        final = self.segments_dir / name
        staging = self.segments_dir / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _save_durably(staging / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        if sentences is not None:
            _save_durably(staging / SENTENCES, _sentence_rows(sentences[0]))
            _save_durably(staging / SENTENCE_OFFSETS, _sentence_offsets(*sentences, len(chunks)))
        if channel is not None:
            _save_durably(staging / CHANNEL, _channel_rows(channel, len(chunks)))
        _write_durably(staging / "chunks.jsonl", _jsonl(map(_chunk_record, chunks)))
        _write_durably(staging / "tokens.jsonl", _jsonl({"t": list(t)} for t in tokens))
        _write_durably(staging / "documents.jsonl", _jsonl(map(_document_record, documents)))
        _fsync_dir(staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _fsync_dir(self.segments_dir)
        self._changed.add(name)
        return name

    def describe_segment(self, name: str) -> SegmentRecord:
        """A segment's record as its files are now: rows, documents and checksums."""
        folder = self.segments_dir / name
        return SegmentRecord(
            rows=self.segment_rows(name),
            documents=count_lines(folder / DOCUMENTS),
            sha256={
                file: file_sha256(folder / file)
                for file in SEGMENT_FILES
                if (folder / file).is_file()
            },
        )

    def publish(self, manifest: Manifest) -> None:
        """Make manifest the current version with one atomic rename, then drop unused files."""
        self.manifests_dir.mkdir(parents=True, exist_ok=True)
        name = manifest.file_name
        manifest.segment_records = {
            segment: self.describe_segment(segment)
            if segment in self._changed or segment not in manifest.segment_records
            else manifest.segment_records[segment]
            for segment in manifest.segments
        }
        self._changed.clear()
        self._publish_file(name, encode_manifest(manifest))

    def publish_sharded(self, manifest: ShardedManifest) -> None:
        """Make a sharded index's top-level manifest current (its shards published first)."""
        self.manifests_dir.mkdir(parents=True, exist_ok=True)
        self._publish_file(manifest.file_name, encode_sharded(manifest))

    def _publish_file(self, name: str, data: bytes) -> None:
        _write_durably(self.manifests_dir / name, data)
        _fsync_dir(self.manifests_dir)
        pointer = self.root / f".{CURRENT}.tmp"
        _write_durably(pointer, name.encode("utf-8"))
        os.replace(pointer, self.root / CURRENT)
        _fsync_dir(self.root)
        self.collect_garbage(keep=2)

    def read_tokens(self, entries: Mapping[str, DocumentEntry]) -> Iterator[list[str]]:
        """The keyword tokens of each chunk of these documents, from the segments they name."""
        by_segment: dict[str, set[str]] = {}
        for doc_id, entry in entries.items():
            by_segment.setdefault(entry.segment, set()).add(doc_id)
        for segment, doc_ids in sorted(by_segment.items()):
            folder = self.segments_dir / segment
            with (
                open(folder / CHUNKS, encoding="utf-8") as chunks,
                open(folder / TOKENS, encoding="utf-8") as tokens,
            ):
                for chunk, row in zip(chunks, tokens, strict=True):
                    if json.loads(chunk)["doc_id"] in doc_ids:
                        yield json.loads(row)["t"]

    def collect_garbage(self, keep: int = 2) -> None:
        """Delete manifests older than the last `keep` and segments none of them use.

        The previous version is kept so that a reader in another process that has just read
        the old CURRENT can still open its segments. The manifest CURRENT names is never
        deleted, whatever its number; callers publish before collecting.
        """
        manifests = sorted(self.manifests_dir.glob("manifest-*.json"))
        current = self.current_name()
        kept = [
            p for i, p in enumerate(manifests) if i >= len(manifests) - keep or p.name == current
        ]
        old = [p for p in manifests if p not in kept]
        used: set[str] = set()
        shards: set[str] = set()
        for path in kept:
            try:
                text = path.read_text(encoding="utf-8")
                used.update(referenced_segments(text))
                shards.update(referenced_shards(text))
            except (OSError, ValueError, KeyError, TypeError):
                # A damaged manifest names nothing we can read: keep every segment this time.
                logger.error("manifest %s is unreadable; no segment is collected", path)
                return
        for path in old:
            path.unlink(missing_ok=True)
        if self.segments_dir.exists():
            for segment in self.segments_dir.iterdir():
                if segment.name not in used and not segment.name.startswith("."):
                    shutil.rmtree(segment, ignore_errors=True)
        # Shards of a sharded version no kept version reads (the index was rebuilt with
        # fewer shards, or as one); a shard folder holds no SHARDS_DIR, so this stops there.
        if (self.root / SHARDS_DIR).is_dir():
            for folder in (self.root / SHARDS_DIR).iterdir():
                if folder.name not in shards:
                    shutil.rmtree(folder, ignore_errors=True)

    def read_segment(
        self,
        name: str,
        live: dict[str, DocumentEntry],
        record: SegmentRecord | None = None,
        with_vectors: bool = True,
    ) -> tuple[list[StoredDocument], list[Chunk], np.ndarray, list[list[str]]]:
        """The live documents, chunks, vectors and keyword tokens of one segment.

        with_vectors: False reads no vector (an empty array; a shard actor holds them).

        Every file must hold the rows the others (and the manifest's `record`) say, else
        IndexDamaged: a truncated file would shift keyword rows against chunks.
        """
        folder = self.segments_dir / name
        try:
            return self._read_segment(folder, name, live, record, with_vectors)
        except FileNotFoundError:
            raise
        except IndexDamaged:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            logger.error("segment %s is unreadable: %s", folder, exc)
            raise IndexDamaged(f"segment {name} is unreadable ({type(exc).__name__})") from exc

    def _read_segment(
        self,
        folder: Path,
        name: str,
        live: dict[str, DocumentEntry],
        record: SegmentRecord | None,
        with_vectors: bool = True,
    ) -> tuple[list[StoredDocument], list[Chunk], np.ndarray, list[list[str]]]:
        documents = []
        stored_documents = 0
        with open(folder / DOCUMENTS, encoding="utf-8") as f:
            for line in f:
                stored_documents += 1
                document = json.loads(line)
                entry = live.get(document["doc_id"])
                if entry is not None and entry.segment == name:
                    documents.append(_stored_document(document, entry.chunks))
        live_ids = {d.doc_id for d in documents}
        rows, chunks = [], []
        chunk_rows = 0
        with open(folder / CHUNKS, encoding="utf-8") as f:
            for row, line in enumerate(f):
                chunk_rows += 1
                chunk = json.loads(line)
                if chunk["doc_id"] in live_ids:
                    rows.append(row)
                    chunks.append(_chunk_from_record(chunk))
        wanted = set(rows)
        tokens = []
        token_rows = 0
        with open(folder / TOKENS, encoding="utf-8") as f:
            for row, line in enumerate(f):
                token_rows += 1
                if row in wanted:
                    tokens.append(json.loads(line)["t"])
        vectors = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
        counts = {VECTORS: int(vectors.shape[0]), CHUNKS: chunk_rows, TOKENS: token_rows}
        expected = record.rows if record is not None else counts[VECTORS]
        wrong = {file: n for file, n in counts.items() if n != expected}
        if record is not None and stored_documents != record.documents:
            wrong[DOCUMENTS] = stored_documents
        if wrong:
            found = ", ".join(f"{file} {n}" for file, n in sorted(wrong.items()))
            raise IndexDamaged(
                f"segment {name} is damaged: {expected} rows expected, found {found} "
                "(`qa verify` says what can be rebuilt)"
            )
        if not with_vectors:
            return documents, chunks, np.zeros((0, vectors.shape[1]), np.float32), tokens
        return documents, chunks, np.asarray(vectors[rows], dtype=np.float32), tokens
