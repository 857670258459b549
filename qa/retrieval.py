"""Finding the chunks most likely to answer a query: dense, keyword, or both fused.

With the multilingual channel (index.multilingual), the question's language decides how a chunk
is scored: an English question on an English chunk by MiniLM and BM25 as before (the channel is
not even asked), any other pair mostly by the channel's cosine, which means the same across
languages where MiniLM's and BM25's do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.embedding import Embedder
from index.language import ENGLISH, detect_language
from index.sharded import ShardedVectors
from index.snapshot import IndexSnapshot
from index.store import Chunk
from index.text import tokenize
from index.vectors import VectorIndex

Fusion = Literal["dense", "keyword", "rrf", "convex"]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, its text, and how well it matches the query."""

    chunk: Chunk
    text: str
    score: float
    dense: float = 0.0
    keyword: float = 0.0
    # The multilingual channel's cosine, when it scored this chunk (else 0).
    channel: float = 0.0

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class RetrievalConfig:
    """How dense and keyword results are combined."""

    fusion: Fusion = "convex"
    # Weight of the dense cosine in the convex mix; BM25 gets the rest, scaled by the query's best.
    # 0.7 was best on scifact train (README, Quality).
    dense_weight: float = 0.7
    # Candidates drawn from each list before fusion.
    depth: int = 100
    rrf_k: int = 60
    # A chunk in another language than the question: the channel's cosine gets this weight,
    # the hybrid score the rest (MRR@10 on XQuAD articles 00-11, zh->en: 0.76 at 0.5, 0.84 at
    # 0.8, 0.84 at 0.9; es->en 0.82, 0.90, 0.87; en->zh 0.83, 0.88, 0.89).
    channel_weight: float = 0.8
    # A chunk in the question's language when that is not English (BM25 still matches words,
    # MiniLM does not read them): zh->zh 0.965 at 0.5, 0.943 at 0.8.
    same_language_channel_weight: float = 0.4


@dataclass(frozen=True)
class ChannelQuery:
    """The question's language and, when some chunk needs it, its multilingual channel vector.

    Without a channel the language is not detected: everything else reads the question as
    English.
    """

    language: str
    vector: np.ndarray | None = None
    # The text the vector embeds.
    text: str = ""


# A filter to at most this many chunks scores each of them; a larger one filters a deeper search.
EXHAUSTIVE_ROWS = 20_000


class DocumentRows:
    """The rows of each document's chunks in one snapshot."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(snapshot.chunks):
            rows.setdefault(chunk.doc_id, []).append(row)
        self.rows = {doc_id: np.array(r, np.int64) for doc_id, r in rows.items()}
        # The language of each row's document: MiniLM and BM25 read English ones with an
        # English question, the channel the rest.
        self.languages = np.array(
            [snapshot.languages.get(c.doc_id, ENGLISH) for c in snapshot.chunks], dtype=object
        )
        self.all_english = bool((self.languages == ENGLISH).all())

    def of(self, doc_ids: frozenset[str]) -> np.ndarray:
        """The rows of the chunks of doc_ids, in index order."""
        parts = [self.rows[d] for d in doc_ids if d in self.rows]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def nearest(
    vectors: VectorIndex | ShardedVectors, query: np.ndarray, depth: int, allowed: np.ndarray | None
) -> list[int]:
    """The rows of the depth vectors nearest the (1, dimensions) query, best first; only rows
    in allowed (sorted) when given."""
    if allowed is not None and len(allowed) <= EXHAUSTIVE_ROWS:
        # Few chunks to choose from: score them all rather than search everything.
        scores = vectors.reconstruct(allowed) @ query[0]
        rows = allowed[np.argsort(-scores, kind="stable")[:depth]][None, :]
    else:
        _, rows = vectors.search(query, depth if allowed is None else depth * 8)
        if allowed is not None:
            rows = rows[:, np.isin(rows[0], allowed)]
    return [int(r) for r in rows[0] if r >= 0]


def ranked(scores: np.ndarray, chunks: list[Chunk], top_k: int) -> np.ndarray:
    """The positions of the top_k scores, best first; equal scores by doc_id and offset.

    Equal scores (a document indexed twice, templated texts) would otherwise come in the order
    the candidates were found, which depends on where the chunks are stored (the shards of an
    index, index.sharded): ranked so, one index and its shards list the same chunks.
    """
    order = np.argsort(-scores, kind="stable")
    shown = scores[order[: top_k + 1]]
    if len(shown) < 2 or not (shown[1:] == shown[:-1]).any():
        return order[:top_k]
    by_key = sorted(
        range(len(scores)), key=lambda i: (-scores[i], chunks[i].doc_id, chunks[i].start)
    )
    return np.asarray(by_key[:top_k], dtype=np.int64)


class Retriever:
    """Hybrid retrieval: MiniLM cosine and BM25, fused into one ranking."""

    def __init__(
        self,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        channel: Embedder | None = None,
    ) -> None:
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.channel = channel
        self._rows: DocumentRows | None = None

    def document_rows(self, snapshot: IndexSnapshot) -> DocumentRows:
        """Each document's rows in snapshot, computed once per version."""
        rows = self._rows
        if rows is None or rows.snapshot is not snapshot:
            rows = self._rows = DocumentRows(snapshot)
        return rows

    def embed_query(self, query: str) -> np.ndarray:
        """The query as a (1, dimensions) unit vector."""
        return self.embedder.embed_batch([query])

    def channel_query(
        self, snapshot: IndexSnapshot, query: str, written: str | None = None
    ) -> ChannelQuery:
        """The query's language, and its channel vector when a chunk is not English or the
        query is not (an English question over English documents never runs the channel).

        written: the question as asked, when query is its English reading (aliases, spelling
        corrections): a question in another language is embedded as written, since those
        readings garble it ("su carrera" read "su (Social Chapter the European Union)").
        """
        if self.channel is None or snapshot.channel is None or not snapshot.chunks:
            return ChannelQuery(ENGLISH)
        language = detect_language(written or query)
        if language == ENGLISH and self.document_rows(snapshot).all_english:
            return ChannelQuery(language)
        text = query if language == ENGLISH or written is None else written
        return ChannelQuery(language, self.channel.embed_batch([text]), text)

    def channel_weights(
        self, snapshot: IndexSnapshot, channel: ChannelQuery, rows: np.ndarray
    ) -> np.ndarray:
        """The weight of the channel's cosine in the score of each of rows for this query."""
        if channel.vector is None:
            return np.zeros(len(rows), np.float32)
        same = self.document_rows(snapshot).languages[rows] == channel.language
        if channel.language == ENGLISH:
            return np.where(same, 0.0, self.config.channel_weight).astype(np.float32)
        weights = (self.config.same_language_channel_weight, self.config.channel_weight)
        return np.where(same, *weights).astype(np.float32)

    def search(
        self,
        snapshot: IndexSnapshot,
        query: str,
        top_k: int,
        query_vector: np.ndarray | None = None,
        doc_ids: frozenset[str] | None = None,
        query_tokens: list[str] | None = None,
        channel: ChannelQuery | None = None,
    ) -> list[Hit]:
        """The top_k chunks for query, best first; only chunks of doc_ids when given.

        query_tokens replace the query's own for keyword search (e.g. with aliases added);
        channel: the query's language and channel vector (channel_query) when already known.
        """
        if not snapshot.chunks:
            return []
        config = self.config
        depth = max(config.depth, top_k)
        allowed = None if doc_ids is None else self.document_rows(snapshot).of(doc_ids)
        if allowed is not None and not len(allowed):
            return []
        candidates: dict[int, None] = {}
        dense_rank: dict[int, int] = {}
        keyword_rank: dict[int, int] = {}
        if config.fusion != "keyword":
            vector = self.embed_query(query) if query_vector is None else query_vector
            for rank, row in enumerate(nearest(snapshot.vectors, vector, depth, allowed)):
                dense_rank[row] = rank
                candidates[row] = None
        else:
            vector = None
        if channel is None:
            channel = self.channel_query(snapshot, query)
        if channel.vector is not None and snapshot.channel is not None:
            for row in nearest(snapshot.channel, channel.vector, depth, allowed):
                candidates[row] = None
        if query_tokens is None:
            query_tokens = tokenize(query)
        asked = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        # One keyword request: its best rows (none for dense fusion) and the others' scores.
        found = snapshot.keywords.match(
            query_tokens, depth if config.fusion != "dense" else 0, asked, allowed
        )
        keyword_of = dict(zip(asked.tolist(), found.at.tolist(), strict=True))
        for rank, (row, score) in enumerate(zip(found.rows.tolist(), found.scores, strict=True)):
            keyword_rank[row] = rank
            candidates[row] = None
            keyword_of.setdefault(row, score)
        rows = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        if not len(rows):
            return []
        dense = (
            snapshot.vectors.reconstruct(rows) @ vector[0]
            if vector is not None
            else np.zeros(len(rows), np.float32)
        )
        keyword = np.array([keyword_of[int(r)] for r in rows], np.float32)
        fused = self._fuse(rows, dense, keyword, found.top, dense_rank, keyword_rank)
        weight = self.channel_weights(snapshot, channel, rows)
        similarity = np.zeros(len(rows), np.float32)
        if weight.any() and snapshot.channel is not None and channel.vector is not None:
            similarity = snapshot.channel.reconstruct(rows) @ channel.vector[0]
            fused = weight * similarity + (1.0 - weight) * fused
        order = ranked(fused, [snapshot.chunks[int(r)] for r in rows], top_k)
        return [
            Hit(
                chunk=snapshot.chunks[int(rows[i])],
                text=snapshot.chunk_text(snapshot.chunks[int(rows[i])]),
                score=float(fused[i]),
                dense=float(dense[i]),
                keyword=float(keyword[i]),
                channel=float(similarity[i]),
            )
            for i in order
        ]

    def _fuse(
        self,
        rows: np.ndarray,
        dense: np.ndarray,
        keyword: np.ndarray,
        top: float,
        dense_rank: dict[int, int],
        keyword_rank: dict[int, int],
    ) -> np.ndarray:
        config = self.config
        if config.fusion == "dense":
            return dense
        if config.fusion == "keyword":
            return keyword
        if config.fusion == "rrf":
            missing = 10**9
            return np.array(
                [
                    1.0 / (config.rrf_k + dense_rank.get(int(r), missing))
                    + 1.0 / (config.rrf_k + keyword_rank.get(int(r), missing))
                    for r in rows
                ]
            )
        # BM25 is unbounded: scale by the best score for this query so both lie in [0, 1].
        scaled = keyword / top if top > 0 else np.zeros_like(keyword)
        return config.dense_weight * dense + (1.0 - config.dense_weight) * scaled
