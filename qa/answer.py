"""From retrieved chunks to an answer: pick the sentences that answer, cite them, or abstain."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field, replace

import numpy as np

from index.embedding import Embedder
from index.snapshot import IndexSnapshot
from index.store import Chunk
from index.text import passage_terms, sentence_terms, tokenize
from qa.abstention import (
    UNRELATED_SENTENCES,
    AbstentionModel,
    has_number,
    wants_date,
    wants_number,
)
from qa.aliases import Bridge, Bridged, GroupWeights, Rewrite, TermGroup, names
from qa.cache import SentenceEmbeddingCache
from qa.crosslingual import CrossLingual
from qa.retrieval import ChannelQuery, Hit, Retriever
from qa.scope import DocumentCatalog, Scope, countries_in, country_names

NO_ANSWER = "The documents do not answer this question."
# A question asking who (the speaker, with no topic).
_ASKS_WHO = re.compile(r"\W*who(?:m|se)?\b", re.IGNORECASE)
# Words, each CJK character counting as one (a Chinese sentence has no spaces).
_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]|[^\W\u3040-\u30ff\u3400-\u9fff]+")


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
    # Words of the question read as others the documents use (acronyms, typos, variants).
    rewrites: tuple[Rewrite, ...] = ()
    # The documents the question named (by speaker, country or title), when it named some.
    scope: tuple[str, ...] = ()


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
    # The sentence's unit vector (the fact checker's pair features use it).
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


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
    # "What else?": the conversation's topic is known to be answered, so the next sentences not
    # cited yet need only this share of the abstention threshold.
    more_threshold_share: float = 0.5
    # A question confined to this many documents or fewer (by the names it uses or a filter)
    # reads deeper into them: their best sentence is often in a chunk about something else
    # ("What did Washington say about fentanyl?" is answered by a sentence on narcotics).
    scoped_documents: int = 3
    scoped_depth: int = 2
    scoped_embedded_sentences: int = 24
    # A sentence of fewer words is a heading or an aside ("Sea Level rise."), not an answer:
    # its score is lowered by this much.
    short_sentence_words: int = 4
    short_sentence_weight: float = 0.15
    # A question asking "how many" prefers sentences that state a number by this much.
    number_weight: float = 0.2
    # A sentence in the question's own language when that is not English (Chinese on Chinese)
    # is read by the channel, whose cosine tells its sentences apart less than their shared
    # words do: the term share weighs this much there (CMRC 2018 tune half, top-1 0.586 at
    # 0.35, 0.652 at 2.5, flat from 2 to 3; docs/quality.md).
    native_overlap_weight: float = 2.5


@dataclass(frozen=True)
class Reading:
    """How a question was read: the documents it names, its topic, and its bridged words."""

    scope: Scope
    bridged: Bridged
    # The documents searched: the request's filter narrowed by those the question names.
    doc_ids: frozenset[str] | None


@dataclass(frozen=True)
class Evidence:
    """What was retrieved for a question, its scored sentences, and the abstention signals."""

    hits: list[Hit]
    candidates: list[SentenceCandidate]
    features: tuple[float, ...]
    probability: float
    reading: Reading | None = None
    # The question's vector, for callers that compare it with the sentences' (fact checks).
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def key_terms_missing(
    snapshot: IndexSnapshot,
    asked: str,
    groups: Sequence[TermGroup],
    rows: np.ndarray | None = None,
) -> float:
    """1 when a name or number of asked (the question's, within its topic) occurs nowhere in
    the documents searched (rows: their chunks; None: all).

    "Does China support the Taliban?" asks about the Taliban: a collection that never names
    them cannot answer, however close its sentences about China's support are.
    """
    by_term = {g.term: g for g in groups}
    asked_tokens = [t for word in asked.split() for t in tokenize(word)]
    wanted = [*asked_tokens]
    for token in asked_tokens:
        wanted.extend(t for a in by_term.get(token, TermGroup(token)).alternatives for t in a)
    wanted = list(dict.fromkeys(wanted))
    # One request for every token (each shard's, when the index is sharded).
    held = dict(zip(wanted, snapshot.keywords.present(wanted, rows), strict=True))
    for token in asked_tokens:
        group = by_term.get(token, TermGroup(token))
        if not held[token] and not any(all(held[t] for t in a) for a in group.alternatives):
            return 1.0
    return 0.0


def context_span(chunk: Chunk, number: int) -> tuple[int, int]:
    """The span of the chunk's sentence `number` with the sentences before and after it."""
    sentences = chunk.sentences
    start = sentences[max(number - 1, 0)][0]
    return start, sentences[min(number + 1, len(sentences) - 1)][1]


def chunk_terms(snapshot: IndexSnapshot, hit: Hit) -> frozenset[str]:
    """The distinct search tokens of the hit's chunk."""
    return passage_terms(snapshot.text(hit.doc_id, s, e) for s, e in hit.chunk.sentences)


def best_passage_terms(
    snapshot: IndexSnapshot, hits: Sequence[Hit], best: SentenceCandidate
) -> frozenset[str]:
    """The search tokens of the best-scored chunk holding the best sentence."""
    for hit in hits:
        if hit.doc_id == best.doc_id and hit.chunk.start <= best.start < hit.chunk.end:
            return chunk_terms(snapshot, hit)
    return sentence_terms(best.text)


def key_terms_outside(asked: str, groups: Sequence[TermGroup], present: frozenset[str]) -> float:
    """The share of the names and numbers of asked that the best sentence's passage (its
    search tokens: present) lacks.

    "How much will be flooded by 2030?" met by a passage about 2050 misses its number.
    """
    words = asked.split()
    if not words:
        return 0.0
    by_term = {g.term: g for g in groups}
    missing = 0
    for word in words:
        tokens = tokenize(word)
        if tokens and not all(by_term.get(t, TermGroup(t)).found_in(present) for t in tokens):
            missing += 1
    return missing / len(words)


class VersionAids:
    """What reading questions needs of one published version, built at first use."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        self.snapshot = snapshot
        # A word the model's tokenizer holds whole is a word of the language, not a typo.
        self.bridge = Bridge(snapshot, lambda word: embedder.count_tokens(word) == 1)
        self._catalog: DocumentCatalog | None = None
        self._lock = threading.Lock()

    @property
    def catalog(self) -> DocumentCatalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = DocumentCatalog(self.snapshot.documents)
            return self._catalog

    def warm(self) -> None:
        """Build what is built at first use now, so that no question waits for it."""
        _ = self.catalog
        self.bridge.names()


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
        self._aids: VersionAids | None = None
        self._aids_lock = threading.Lock()
        self._unrelated: np.ndarray | None = None
        self.crosslingual = CrossLingual(retriever.channel)

    def candidates(
        self,
        snapshot: IndexSnapshot,
        question: str,
        top_k: int,
        embedded: int | None = None,
        doc_ids: frozenset[str] | None = None,
        interpret: bool = False,
    ) -> list[SentenceCandidate]:
        """Sentences of the top_k chunks, scored, best first.

        At most `embedded` (default: the config's max_embedded_sentences) are scored; with
        interpret, the question is read as answer() reads it (names, topic, aliases).
        """
        return self.evidence(snapshot, question, top_k, embedded, doc_ids, interpret).candidates

    def aids(self, snapshot: IndexSnapshot) -> VersionAids:
        """The reading aids of snapshot's version (replaced when a new version is asked)."""
        with self._aids_lock:
            aids = self._aids
            if aids is None or aids.snapshot is not snapshot:
                aids = self._aids = VersionAids(snapshot, self.embedder)
            return aids

    def read(
        self, snapshot: IndexSnapshot, question: str, doc_ids: frozenset[str] | None = None
    ) -> Reading:
        """The documents question names, its topic, and the words bridged to the collection."""
        aids = self.aids(snapshot)
        scope = aids.catalog.scope(question)
        corrections: tuple[Rewrite, ...] = ()
        if not scope.mentions:
            # "what did keyna say": a misspelt name of a document names it too.
            spelled = [r for r in aids.bridge.bridge(question).rewrites if r.kind == "spelling"]
            corrected = question
            for rewrite in spelled:
                corrected = re.sub(rf"\b{re.escape(rewrite.source)}\b", rewrite.target, corrected)
            rescoped = aids.catalog.scope(corrected) if spelled else scope
            if rescoped.mentions:
                scope = rescoped
                corrections = tuple(
                    r for r in spelled if any(m.lower() == r.target for m in scope.mentions)
                )
        searched = doc_ids
        if scope.doc_ids is not None:
            narrowed = scope.doc_ids if doc_ids is None else scope.doc_ids & doc_ids
            searched = narrowed or doc_ids
        topic = scope.topic if tokenize(scope.topic) else question
        # Countries the topic names are also found by their other names ("the DPRK").
        named = [(surface, country_names()[iso3]) for surface, iso3 in countries_in(topic)]
        bridged = aids.bridge.with_other_names(aids.bridge.bridge(topic), named)
        if scope.neutral and scope.neutral != topic:
            # The model reads the question as asked, names aside; terms come from the topic.
            asked = aids.bridge.with_other_names(aids.bridge.bridge(scope.neutral), named)
            bridged = replace(bridged, query=asked.query, rewrites=asked.rewrites)
        if corrections:
            bridged = replace(bridged, rewrites=(*corrections, *bridged.rewrites))
        return Reading(scope, bridged, searched)

    def evidence(
        self,
        snapshot: IndexSnapshot,
        question: str,
        top_k: int,
        embedded: int | None = None,
        doc_ids: frozenset[str] | None = None,
        interpret: bool = True,
        exclude: frozenset[tuple[str, int, int]] = frozenset(),
        query_vector: np.ndarray | None = None,
    ) -> Evidence:
        """Retrieve (from doc_ids only, when given), score the sentences, and estimate whether
        they answer the question.

        With interpret, the question is read first (the documents it names, its topic, its
        aliases and typos); exclude holds sentences already cited, never candidates again.
        query_vector: the question's (1, dimensions) vector when already embedded (in a batch:
        a fact check's claims); it stands for the question as written.
        """
        given = query_vector
        written = question
        reading = self.read(snapshot, question, doc_ids) if interpret else None
        if reading is None:
            query, searched = question, doc_ids
            groups = tuple(TermGroup(t) for t in dict.fromkeys(tokenize(question)))
            tokens: list[str] | None = None
        else:
            query, searched = reading.bridged.query, reading.doc_ids
            groups, tokens = reading.bridged.groups, reading.bridged.tokens
        overview = reading is not None and reading.scope.overview
        if overview and _ASKS_WHO.match(question):
            # "Who is the speaker?": the sentences naming the speakers the catalogue knows
            # (none known: nothing answers it).
            catalog = self.aids(snapshot).catalog
            speakers = {
                d: n.speaker
                for d, n in catalog.names.items()
                if n.speaker and (searched is None or d in searched)
            }
            query = written = " ".join(dict.fromkeys(speakers.values()))
            searched = frozenset(speakers)
            groups = tuple(TermGroup(t) for t in dict.fromkeys(tokenize(query)))
            tokens, overview = None, False
            if not speakers:
                return Evidence([], [], (), 0.0, reading, query_vector)
        if searched is not None and len(searched) <= self.config.scoped_documents:
            top_k *= self.config.scoped_depth
            if embedded is None:
                embedded = self.config.scoped_embedded_sentences
        if overview:
            query_vector = self.centroid(snapshot, searched)
        elif given is not None:
            query_vector = given
        else:
            query_vector = self.retriever.embed_query(query)
        channel = self.retriever.channel_query(snapshot, query, written)
        hits = self.retriever.search(
            snapshot,
            query,
            top_k,
            query_vector=query_vector,
            doc_ids=searched,
            query_tokens=tokens,
            channel=channel,
        )
        weights = GroupWeights(snapshot, groups)
        candidates = self.score_sentences(
            snapshot, weights, query_vector, hits, embedded, exclude, channel
        )
        wanted, date = wants_number(question), wants_date(question)
        if wanted:
            candidates = self.prefer_numbers(candidates, date)
        if not candidates:
            return Evidence(hits, candidates, (), 0.0, reading, query_vector)
        best = candidates[0]
        topic = reading.scope.topic if reading is not None else question
        numbers = re.findall(r"\b\d[\d,.]*\d\b|\b\d\b", topic)
        asked = " ".join([*(w for w in sorted(names(question)) if w in topic), *numbers])
        rows = None if searched is None else self.retriever.document_rows(snapshot).of(searched)
        features = (
            best.similarity,
            best.similarity - self.unrelated_similarity(query_vector),
            best.overlap,
            max(weights.share(chunk_terms(snapshot, h)) for h in hits),
            weights.known_share(snapshot, rows),
            key_terms_missing(snapshot, asked, groups, rows),
            key_terms_outside(asked, groups, best_passage_terms(snapshot, hits, best)),
            float(wanted and not has_number(best.text, date)),
        )
        probability = self.abstention.probability(features)
        if self.crosslingual.crossed(snapshot, channel, [best.doc_id])[0]:
            # Judged on the closest sentence, as it was calibrated: the one cited first is
            # chosen by more than its cosine (qa.crosslingual.CrossLingualRanking).
            closest = max(c.similarity for c in candidates if c.vector is None)
            probability = self.crosslingual.probability(closest, channel)
        if overview:
            probability = 1.0  # "What did Brazil say?" is answered by the speech itself
        return Evidence(hits, candidates, features, probability, reading, query_vector)

    def prefer_numbers(
        self, candidates: list[SentenceCandidate], date: bool = False
    ) -> list[SentenceCandidate]:
        """The candidates rescored for a question asking for a count (date: or when): those
        stating one first."""
        weight = self.config.number_weight
        rescored = [
            c if has_number(c.text, date) else replace(c, score=c.score - weight)
            for c in candidates
        ]
        return sorted(rescored, key=lambda c: c.score, reverse=True)

    def unrelated_similarity(self, query_vector: np.ndarray) -> float:
        """The mean similarity of the question to sentences about other subjects."""
        with self._aids_lock:
            if self._unrelated is None:
                self._unrelated = self.embedder.embed_batch(list(UNRELATED_SENTENCES))
            unrelated = self._unrelated
        return float((unrelated @ query_vector[0]).mean())

    def centroid(self, snapshot: IndexSnapshot, doc_ids: frozenset[str] | None) -> np.ndarray:
        """The mean direction of the documents' chunks: what they are mostly about."""
        if doc_ids is None:
            rows = np.arange(len(snapshot.chunks), dtype=np.int64)
        else:
            rows = self.retriever.document_rows(snapshot).of(doc_ids)
        if not len(rows):
            return np.zeros((1, self.embedder.dimensions), np.float32)
        mean = snapshot.vectors.reconstruct(rows).mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-9))[None, :].astype(np.float32)

    def score_sentences(
        self,
        snapshot: IndexSnapshot,
        weights: GroupWeights,
        query_vector: np.ndarray,
        hits: list[Hit],
        embedded: int | None = None,
        exclude: frozenset[tuple[str, int, int]] = frozenset(),
        channel: ChannelQuery | None = None,
    ) -> list[SentenceCandidate]:
        """Score the sentences of hits against the question (at most `embedded` of them);
        those MiniLM cannot read with the question by the channel's cosine and, across
        languages, its ranking signals (qa.crosslingual)."""
        chunk_score: dict[tuple[str, int, int], float] = {}
        # Where a sentence's stored vector would be: a chunk holding it and its number there.
        stored_at: dict[tuple[str, int, int], tuple[Chunk, int]] = {}
        for hit in hits:
            for number, (start, end) in enumerate(hit.chunk.sentences):
                key = (hit.doc_id, start, end)
                if key in exclude:
                    continue
                chunk_score[key] = max(chunk_score.get(key, -1.0), hit.score)
                stored_at.setdefault(key, (hit.chunk, number))
        if not chunk_score:
            return []
        config = self.config
        # The IDF-weighted share of the question's terms (or their aliases) each sentence has.
        keys = list(chunk_score)
        texts = [snapshot.text(doc_id, start, end) for doc_id, start, end in keys]
        overlaps = [weights.share(sentence_terms(text)) for text in texts]
        cap = config.max_embedded_sentences if embedded is None else embedded
        if embedded is None and channel is not None and channel.vector is not None:
            cap = max(cap, self.crosslingual.max_sentences)
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
        crossed = self.crosslingual.crossed(snapshot, channel, [k[0] for k in keys])
        plain = [i for i in range(len(keys)) if not crossed[i]]
        matrix = np.zeros((len(keys), self.embedder.dimensions), np.float32)
        if plain:
            matrix[plain] = self.sentence_matrix(
                snapshot, [keys[i] for i in plain], [texts[i] for i in plain], stored_at
            )
        similarities = matrix @ query_vector[0]
        if crossed.any() and channel is not None:
            similarities[crossed] = self.crosslingual.similarities(
                snapshot,
                [k for k, c in zip(keys, crossed, strict=True) if c],
                [t for t, c in zip(texts, crossed, strict=True) if c],
                channel,
            )
        vectors: list[np.ndarray | None] = [
            None if c else row for c, row in zip(crossed, matrix, strict=True)
        ]
        native = self.crosslingual.native(snapshot, channel, [k[0] for k in keys])
        bonus = np.zeros(len(keys), np.float32)
        across = crossed & ~native
        if across.any() and channel is not None:
            # Across languages the sentence's cosine alone favours short mentions of the
            # question's subject; its context and translated words say more (qa.crosslingual).
            chosen = [i for i in range(len(keys)) if across[i]]
            features = self.crosslingual.ranking(
                snapshot,
                channel.text,
                [keys[i] for i in chosen],
                [texts[i] for i in chosen],
                [context_span(*stored_at[keys[i]]) for i in chosen],
                channel,
            )
            bonus[chosen] = features @ np.array(astuple(self.crosslingual.weights), np.float32)
        candidates = []
        for (doc_id, start, end), text, similarity, overlap, vector, own, extra in zip(
            keys, texts, similarities, overlaps, vectors, native, bonus, strict=True
        ):
            score = (
                config.similarity_weight * float(similarity)
                + (config.native_overlap_weight if own else config.overlap_weight) * overlap
                + config.chunk_weight * chunk_score[(doc_id, start, end)]
                + float(extra)
            )
            if len(_WORDS.findall(text)) < config.short_sentence_words:
                score -= config.short_sentence_weight
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
                    vector,
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
        terms = {id(c): sentence_terms(c.text) for c in [candidates[0], *pool]}
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
        exclude: frozenset[tuple[str, int, int]] = frozenset(),
    ) -> Answer:
        """Answer question from snapshot (from doc_ids only, when given), or abstain when the
        evidence is weak. Sentences in exclude (cited before) are not cited again."""
        evidence = self.evidence(snapshot, question, top_k, doc_ids=doc_ids, exclude=exclude)
        confidence = round(evidence.probability, 4)
        reading = evidence.reading
        rewrites = reading.bridged.rewrites if reading is not None else ()
        scope = (
            tuple(sorted(reading.doc_ids))
            if reading is not None and reading.scope.doc_ids is not None and reading.doc_ids
            else ()
        )
        threshold = self.abstention.threshold
        if exclude:
            threshold *= self.config.more_threshold_share
        chosen = [] if confidence < threshold else self.select(evidence.candidates)
        if not chosen:
            return Answer(False, NO_ANSWER, [], confidence, rewrites, scope)
        citations = [
            Citation(n, c.doc_id, c.text, c.start, c.end, round(c.score, 4))
            for n, c in enumerate(chosen, start=1)
        ]
        quoted = [c for c in chosen if c.score >= chosen[0].score - self.config.follow_margin]
        text = " ".join(
            f"\u201c{c.text}\u201d [{n}]" for n, c in enumerate(chosen, start=1) if c in quoted
        )
        return Answer(True, text, citations, confidence, rewrites, scope)
