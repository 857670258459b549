"""Compaction: which segments to rewrite, and rewriting their live rows into one new segment.

Deleting or replacing a document leaves dead rows in its old segment, and every upload makes a
small segment; both slow down loading a version. Rewriting copies stored vectors, tokens,
sentence and channel vectors, so nothing is embedded again.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from index.documents import Document
from index.manifest import Manifest
from index.sentences import carry_over_sentences
from index.store import Chunk, IndexStore, chunk_id

# A segment is rewritten without its dead rows once this share of them is dead.
COMPACT_DEAD_SHARE = 0.5
# Segments with fewer live chunks than this are small; past MAX_SMALL_SEGMENTS of them
# (one per upload, typically) they are merged, so that loading a version stays quick.
SMALL_SEGMENT_CHUNKS = 256
MAX_SMALL_SEGMENTS = 8


def compaction_candidates(store: IndexStore, manifest: Manifest) -> list[str]:
    """Segments worth rewriting: mostly dead ones, and the small ones once there are many."""
    live: Counter[str] = Counter()
    for entry in manifest.documents.values():
        if entry.segment:
            live[entry.segment] += entry.chunks
    dead, small = [], []
    for segment, live_rows in sorted(live.items()):
        rows = store.segment_rows(segment)
        if rows and (rows - live_rows) / rows >= COMPACT_DEAD_SHARE:
            dead.append(segment)
        elif live_rows < SMALL_SEGMENT_CHUNKS:
            small.append(segment)
    return sorted(dead + small) if len(small) > MAX_SMALL_SEGMENTS else dead


def merge_segments(
    store: IndexStore, manifest: Manifest, segments: list[str], dimensions: int
) -> str:
    """Copy the live rows of segments into one new segment; the manifest then points at it.

    Returns the new segment's name; the change is published with the manifest's next version.
    """
    number = manifest.next_segment
    documents: list[Document] = []
    chunks: list[Chunk] = []
    vectors: list[np.ndarray] = []
    tokens: list[list[str]] = []
    stored: list[tuple[tuple[np.ndarray, np.ndarray] | None, list[Chunk]]] = []
    channel: list[np.ndarray] = []
    for segment in segments:
        seg_docs, seg_chunks, seg_vectors, seg_tokens = store.read_segment(
            segment, manifest.documents
        )
        documents.extend(Document(d.doc_id, d.text, d.title, d.metadata) for d in seg_docs)
        chunks.extend(seg_chunks)
        vectors.append(seg_vectors)
        tokens.extend(seg_tokens)
        stored.append((store.open_sentence_vectors(segment), seg_chunks))
        if manifest.channel:
            channel.append(store.channel_rows(segment, seg_chunks))
    # Sentence vectors are copied when every segment has them (else filled in later).
    sentences = carry_over_sentences(stored, dimensions)
    renumbered = [
        Chunk(chunk_id(number, row), c.doc_id, c.start, c.end, c.sentences)
        for row, c in enumerate(chunks)
    ]
    name = store.write_segment(
        number,
        documents,
        renumbered,
        np.vstack(vectors),
        tokens,
        sentences,
        np.vstack(channel) if manifest.channel else None,
    )
    for document in documents:
        manifest.documents[document.doc_id].segment = name
    manifest.next_segment = number + 1
    return name
