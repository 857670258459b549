"""From retrieved chunks to an answer: pick the sentences that answer, cite them, or abstain."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.embedding import Embedder
from index.snapshot import IndexSnapshot
from index.store import Chunk
from index.text import tokenize
from qa.abstention import AbstentionModel, TermWeights, passage_overlap, unknown_share
from qa.cache import SentenceEmbeddingCache
from qa.retrieval import Hit, Retriever

NO_ANSWER = "The documents do not answer this question."


@dataclass(frozen=True)
class Citation:
    """A verbatim excerpt: document_text[start:end] == text."""

    n: int
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None


@dataclass(frozen=True)
class Answer:
    """The composed answer and the citations its markers refer to."""

    answered: bool
    text: str
    citations: list[Citation] = field(default_factory=list)
    # P(the evidence answers), compared with the abstention threshold.
    confidence: float = 0.0


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence of a retrieved chunk with the signals that say whether it answers."""

    doc_id: str
    start: int
    end: int
    text: str
    similarity: float
    overlap: float
    chunk_score: float
    score: float


@dataclass(frozen=True)
class AnswerConfig:
    """Weights and thresholds of sentence scoring and abstention."""

    max_citations: int = 3
    similarity_weight: float = 1.0
    overlap_weight: float = 0.35
    chunk_weight: float = 0.2
    # Further sentences are quoted in the answer when they score within this margin of the best,
    follow_margin: float = 0.08
    # and listed as further citations within this wider one.
    cite_margin: float = 0.2
    # Maximal marginal relevance: how much a sentence's similarity to those already cited counts.
    diversity: float = 0.3
    # Sentences embedded per question, the best by term overlap and chunk score: on a large
    # index most sentences of the retrieved chunks were never embedded before, and embedding
    # all of them (about 56) took 750 ms a question at 100,000 chunks (bench/latency.py --cold).
    # squad2 answers were as good with 8 (top-1 0.829) as with all of them (0.827).
    max_embedded_sentences: int = 8
    # Abstain when the estimated probability that the evidence answers is below its threshold.
    abstention: AbstentionModel = field(default_factory=AbstentionModel)


@dataclass(frozen=True)
class Evidence:
    """What was retrieved for a question, its scored sentences, and the abstention signals."""

    hits: list[Hit]
    candidates: list[SentenceCandidate]
    features: tuple[float, ...]
    probability: float


class Answerer:
    """Answers questions with verbatim sentences from the index."""

    def __init__(
        self,
        embedder: Embedder,
        retriever: Retriever,
        config: AnswerConfig | None = None,
    ) -> None:
        self.embedder = embedder
        self.retriever = retriever
        self.config = config or AnswerConfig()
        self.sentence_vectors = SentenceEmbeddingCache(embedder)
        self.abstention = self.config.abstention

    def candidates(
        self,
        snapshot: IndexSnapshot,
        question: str,
        top_k: int,
        embedded: int | None = None,
        doc_ids: frozenset[str] | None = None,
    ) -> list[SentenceCandidate]:
        """Sentences of the top_k chunks, scored, best first.

        At most `embedded` (default: the config's max_embedded_sentences) are scored.
        """
        return self.evidence(snapshot, question, top_k, embedded, doc_ids).candidates

    def evidence(
        self,
        snapshot: IndexSnapshot,
        question: str,
        top_k: int,
        embedded: int | None = None,
        doc_ids: frozenset[str] | None = None,
    ) -> Evidence:
        """Retrieve (from doc_ids only, when given), score the sentences, and estimate whether
        they answer the question."""
        query_vector = self.retriever.embed_query(question)
        hits = self.retriever.search(
            snapshot, question, top_k, query_vector=query_vector, doc_ids=doc_ids
        )
        candidates = self.score_sentences(snapshot, question, query_vector, hits, embedded)
        if not candidates:
            return Evidence(hits, candidates, (), 0.0)
        terms = set(tokenize(question))
        best = candidates[0]
        features = (
            best.similarity,
            best.overlap,
            best.chunk_score,
            max(h.dense for h in hits),
            unknown_share(snapshot, terms),
            passage_overlap(snapshot, terms, [h.text for h in hits]),
        )
        return Evidence(hits, candidates, features, self.abstention.probability(features))

    def score_sentences(
        self,
        snapshot: IndexSnapshot,
        question: str,
        query_vector: np.ndarray,
        hits: list[Hit],
        embedded: int | None = None,
    ) -> list[SentenceCandidate]:
        """Score the sentences of hits against the question (at most `embedded` of them)."""
        chunk_score: dict[tuple[str, int, int], float] = {}
        # Where a sentence's stored vector would be: a chunk holding it and its number there.
        stored_at: dict[tuple[str, int, int], tuple[Chunk, int]] = {}
        for hit in hits:
            for number, (start, end) in enumerate(hit.chunk.sentences):
                key = (hit.doc_id, start, end)
                chunk_score[key] = max(chunk_score.get(key, -1.0), hit.score)
                stored_at.setdefault(key, (hit.chunk, number))
        if not chunk_score:
            return []
        config = self.config
        # The IDF-weighted share of the question's terms that each sentence contains.
        weights = TermWeights(snapshot, set(tokenize(question)))
        keys = list(chunk_score)
        texts = [snapshot.text(doc_id, start, end) for doc_id, start, end in keys]
        overlaps = [weights.share(set(tokenize(text))) for text in texts]
        cap = config.max_embedded_sentences if embedded is None else embedded
        if len(keys) > cap:
            # Only the most promising sentences by the cheap signals go to the model.
            order = sorted(
                range(len(keys)),
                key=lambda i: (
                    config.overlap_weight * overlaps[i] + config.chunk_weight * chunk_score[keys[i]]
                ),
                reverse=True,
            )[:cap]
            keys = [keys[i] for i in order]
            texts = [texts[i] for i in order]
            overlaps = [overlaps[i] for i in order]
        similarities = self.sentence_matrix(snapshot, keys, texts, stored_at) @ query_vector[0]
        candidates = []
        for (doc_id, start, end), text, similarity, overlap in zip(
            keys, texts, similarities, overlaps, strict=True
        ):
            score = (
                config.similarity_weight * float(similarity)
                + config.overlap_weight * overlap
                + config.chunk_weight * chunk_score[(doc_id, start, end)]
            )
            candidates.append(
                SentenceCandidate(
                    doc_id,
                    start,
                    end,
                    text,
                    float(similarity),
                    overlap,
                    chunk_score[(doc_id, start, end)],
                    score,
                )
            )
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates

    def sentence_matrix(
        self,
        snapshot: IndexSnapshot,
        keys: list[tuple[str, int, int]],
        texts: list[str],
        stored_at: dict[tuple[str, int, int], tuple[Chunk, int]],
    ) -> np.ndarray:
        """Unit vectors of the sentences: stored ones read, the others embedded (and cached)."""
        matrix = np.zeros((len(keys), self.embedder.dimensions), np.float32)
        missing = []
        for i, key in enumerate(keys):
            vector = snapshot.sentences.lookup(*stored_at[key])
            if vector is None:
                missing.append(i)
            else:
                matrix[i] = vector
        if missing:
            cache_keys = [
                (snapshot.documents[doc_id].content_hash, start, end)
                for doc_id, start, end in (keys[i] for i in missing)
            ]
            matrix[missing] = self.sentence_vectors.embed(cache_keys, [texts[i] for i in missing])
        return matrix

    def select(self, candidates: list[SentenceCandidate]) -> list[SentenceCandidate]:
        """The best sentence and those close behind it, diversified, in score order."""
        config = self.config
        if not candidates:
            return []
        best = candidates[0].score
        pool = [c for c in candidates[1:] if c.score >= best - config.cite_margin]
        # Each sentence is tokenised once, not once per round of the selection.
        terms = {id(c): set(tokenize(c.text)) for c in [candidates[0], *pool]}
        chosen = [candidates[0]]
        while pool and len(chosen) < config.max_citations:

            def mmr(c: SentenceCandidate) -> float:
                mine = terms[id(c)]
                redundancy = max(
                    len(mine & terms[id(o)]) / max(1, len(mine | terms[id(o)])) for o in chosen
                )
                return c.score - config.diversity * redundancy

            pick = max(pool, key=mmr)
            pool.remove(pick)
            chosen.append(pick)
        return chosen

    def answer(
        self,
        snapshot: IndexSnapshot,
        question: str,
        top_k: int = 8,
        doc_ids: frozenset[str] | None = None,
    ) -> Answer:
        """Answer question from snapshot (from doc_ids only, when given), or abstain when the
        evidence is weak."""
        evidence = self.evidence(snapshot, question, top_k, doc_ids=doc_ids)
        confidence = round(evidence.probability, 4)
        chosen = [] if confidence < self.abstention.threshold else self.select(evidence.candidates)
        if not chosen:
            return Answer(answered=False, text=NO_ANSWER, citations=[], confidence=confidence)
        citations = [
            Citation(n, c.doc_id, c.text, c.start, c.end, round(c.score, 4))
            for n, c in enumerate(chosen, start=1)
        ]
        quoted = [c for c in chosen if c.score >= chosen[0].score - self.config.follow_margin]
        text = " ".join(
            f"\u201c{c.text}\u201d [{n}]" for n, c in enumerate(chosen, start=1) if c in quoted
        )
        return Answer(answered=True, text=text, citations=citations, confidence=confidence)
