"""Stored sentence vectors: each sentence of each chunk embedded once, at index time.

An answer scores the sentences of the retrieved chunks by their cosine with the question.
Embedding them when the question comes costs about 130 ms on one core for a question whose
chunks were never seen before (bench/latency.py --cold at 100,000 chunks); stored, they are
read from a memory map. A new index stores them unless told not to (`qa index
--no-sentence-vectors`): they cost about 60% more model time than the chunks alone, and 768
bytes per sentence on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from index.manifest import Manifest
from index.store import Chunk, IndexStore, split_chunk_id

# Whether an index created without saying stores sentence vectors.
STORED_BY_DEFAULT = True

# What a chunk contributes: its doc_id and its sentences' (start, end) offsets.
ChunkSentences = tuple[str, Sequence[tuple[int, int]]]
# Embeds the sentences of chunks (embed_sentences with the model bound): (vectors, offsets).
SentenceEmbedder = Callable[
    [Sequence[ChunkSentences], Mapping[str, str]], tuple[np.ndarray, np.ndarray]
]


def embed_sentences(
    chunks: Sequence[ChunkSentences],
    texts: Mapping[str, str],
    embed: Callable[[list[str]], np.ndarray],
    dimensions: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, offsets): chunk row r's sentences are vectors[offsets[r]:offsets[r + 1]].

    `texts` holds each document's text by doc_id. Overlapping chunks share sentences; each
    distinct one is embedded once.
    """
    distinct: dict[tuple[str, int, int], int] = {}
    rows: list[int] = []
    offsets = [0]
    for doc_id, sentences in chunks:
        for start, end in sentences:
            rows.append(distinct.setdefault((doc_id, start, end), len(distinct)))
        offsets.append(len(rows))
    if distinct:
        vectors = embed([texts[doc_id][start:end] for doc_id, start, end in distinct])
    else:
        vectors = np.zeros((0, dimensions), np.float32)
    return vectors[np.asarray(rows, dtype=np.int64)], np.asarray(offsets, dtype=np.int64)


def carry_over_sentences(
    segments: Sequence[tuple[tuple[np.ndarray, np.ndarray] | None, Sequence[Chunk]]],
    dimensions: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(vectors, offsets) of the given chunks of several segments, in order, for compaction.

    Each segment comes as its stored (vectors, offsets), or None when it has none: then None.
    """
    parts: list[np.ndarray] = []
    offsets = [0]
    for stored, chunks in segments:
        if stored is None:
            return None
        vectors, segment_offsets = stored
        for chunk in chunks:
            row = split_chunk_id(chunk.id)[1]
            parts.append(np.asarray(vectors[segment_offsets[row] : segment_offsets[row + 1]]))
            offsets.append(offsets[-1] + len(parts[-1]))
    matrix = np.vstack(parts) if parts else np.zeros((0, dimensions), np.float16)
    return matrix, np.asarray(offsets, dtype=np.int64)


class SentenceVectors:
    """The stored sentence vectors of one snapshot's segments, by chunk and sentence number."""

    def __init__(self, segments: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        # segment number -> (vectors, memory-mapped; offsets by chunk row)
        self.segments = segments or {}

    def __len__(self) -> int:
        """How many segments have stored sentence vectors."""
        return len(self.segments)

    def lookup(self, chunk: Chunk, sentence: int) -> np.ndarray | None:
        """The unit vector of the chunk's sentence number `sentence`, or None if not stored."""
        number, row = split_chunk_id(chunk.id)
        found = self.segments.get(number)
        if found is None:
            return None
        vectors, offsets = found
        first, stop = int(offsets[row]), int(offsets[row + 1])
        if not 0 <= sentence < stop - first:
            return None
        return np.asarray(vectors[first + sentence], dtype=np.float32)


def backfill_sentence_vectors(
    store: IndexStore, manifest: Manifest, embed: SentenceEmbedder
) -> list[str]:
    """Store sentence vectors for the live segments without them; returns those segments.

    Each segment's file lands as soon as it is embedded: an interrupted run keeps them.
    """
    filled = []
    for segment in manifest.segments:
        # Staged documents have no segment yet; the writer gives theirs sentence vectors.
        if not segment or store.has_sentence_vectors(segment):
            continue
        documents, chunks, _, _ = store.read_segment(segment, manifest.documents)
        # Rows of replaced or deleted documents get no sentences.
        by_row: list[ChunkSentences] = [("", ())] * store.segment_rows(segment)
        for chunk in chunks:
            by_row[split_chunk_id(chunk.id)[1]] = (chunk.doc_id, chunk.sentences)
        vectors, offsets = embed(by_row, {d.doc_id: d.text for d in documents})
        store.add_sentence_vectors(segment, vectors, offsets)
        filled.append(segment)
    return filled
