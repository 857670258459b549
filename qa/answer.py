"""From retrieved chunks to an answer: pick the sentences that answer, cite them, or abstain."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from index.embedding import Embedder
from index.snapshot import IndexSnapshot
from index.text import tokenize
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
    # Below this combined score of the best sentence the documents are taken not to answer.
    abstain_below: float = 0.55
    # Further sentences are cited only when they score within this margin of the best.
    follow_margin: float = 0.08
    # Maximal marginal relevance: how much a sentence's similarity to those already cited counts.
    diversity: float = 0.3


class SentenceEmbeddingCache:
    """Sentence vectors by (content hash, start, end), least recently used dropped first."""

    def __init__(self, embedder: Embedder, capacity: int = 50_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()

    def embed(self, keys: list[tuple[str, int, int]], texts: list[str]) -> np.ndarray:
        """Vectors for the sentences, embedding only those not seen before."""
        missing = [i for i, key in enumerate(keys) if key not in self._vectors]
        if missing:
            vectors = self.embedder.embed_batch([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                self._vectors[keys[i]] = vector
        result = np.vstack([self._vectors[key] for key in keys])
        for key in keys:
            self._vectors.move_to_end(key)
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        return result


def term_overlap(snapshot: IndexSnapshot, question_terms: set[str], text: str) -> float:
    """The IDF-weighted share of the question's terms that occur in text."""
    if not question_terms:
        return 0.0
    present = question_terms & set(tokenize(text))
    total = sum(snapshot.idf(t) for t in question_terms)
    return sum(snapshot.idf(t) for t in present) / total if total else 0.0


class Answerer:
    """Answers questions with verbatim sentences from the index."""

    def __init__(
        self, embedder: Embedder, retriever: Retriever, config: AnswerConfig | None = None
    ) -> None:
        self.embedder = embedder
        self.retriever = retriever
        self.config = config or AnswerConfig()
        self.sentence_vectors = SentenceEmbeddingCache(embedder)

    def candidates(
        self, snapshot: IndexSnapshot, question: str, top_k: int
    ) -> list[SentenceCandidate]:
        """Every sentence of the top_k chunks, scored, best first."""
        query_vector = self.retriever.embed_query(question)
        hits = self.retriever.search(snapshot, question, top_k, query_vector=query_vector)
        return self.score_sentences(snapshot, question, query_vector, hits)

    def score_sentences(
        self, snapshot: IndexSnapshot, question: str, query_vector: np.ndarray, hits: list[Hit]
    ) -> list[SentenceCandidate]:
        """Score the sentences of hits against the question."""
        chunk_score: dict[tuple[str, int, int], float] = {}
        for hit in hits:
            for start, end in hit.chunk.sentences:
                key = (hit.doc_id, start, end)
                chunk_score[key] = max(chunk_score.get(key, -1.0), hit.score)
        if not chunk_score:
            return []
        keys = list(chunk_score)
        texts = [snapshot.text(doc_id, start, end) for doc_id, start, end in keys]
        cache_keys = [
            (snapshot.documents[doc_id].content_hash, start, end) for doc_id, start, end in keys
        ]
        similarities = self.sentence_vectors.embed(cache_keys, texts) @ query_vector[0]
        question_terms = set(tokenize(question))
        config = self.config
        candidates = []
        for (doc_id, start, end), text, similarity in zip(keys, texts, similarities, strict=True):
            overlap = term_overlap(snapshot, question_terms, text)
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

    def select(self, candidates: list[SentenceCandidate]) -> list[SentenceCandidate]:
        """The best sentence and those close behind it, diversified, in score order."""
        config = self.config
        if not candidates or candidates[0].score < config.abstain_below:
            return []
        best = candidates[0].score
        pool = [c for c in candidates[1:] if c.score >= best - config.follow_margin]
        chosen = [candidates[0]]
        chosen_terms = [set(tokenize(candidates[0].text))]
        while pool and len(chosen) < config.max_citations:

            def mmr(c: SentenceCandidate) -> float:
                terms = set(tokenize(c.text))
                redundancy = max(
                    len(terms & other) / max(1, len(terms | other)) for other in chosen_terms
                )
                return c.score - config.diversity * redundancy

            pick = max(pool, key=mmr)
            pool.remove(pick)
            chosen.append(pick)
            chosen_terms.append(set(tokenize(pick.text)))
        return chosen

    def answer(self, snapshot: IndexSnapshot, question: str, top_k: int = 8) -> Answer:
        """Answer question from snapshot, or abstain when the evidence is weak."""
        chosen = self.select(self.candidates(snapshot, question, top_k))
        if not chosen:
            return Answer(answered=False, text=NO_ANSWER, citations=[])
        citations = [
            Citation(n, c.doc_id, c.text, c.start, c.end, round(c.score, 4))
            for n, c in enumerate(chosen, start=1)
        ]
        text = " ".join(f"\u201c{c.text}\u201d [{c.n}]" for c in citations)
        return Answer(answered=True, text=text, citations=citations)
