"""Sentence choice and abstention where MiniLM cannot read the question with the sentence.

A Chinese or Spanish question over English documents (or an English one over Chinese
documents) is scored by the multilingual channel (index.multilingual): its cosine with each
candidate sentence, embedded when the question comes (cached by content). Whether such
evidence answers is decided from what means the same across languages: the channel's cosine
of the best sentence and its margin over unrelated sentences; the lexical signals of
qa.abstention (the share of unknown terms above all) say nothing across scripts.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from index.language import ENGLISH
from index.snapshot import IndexSnapshot
from index.text import STOPWORDS, WORD, tokenize
from qa.abstention import UNRELATED_SENTENCES
from qa.cache import SentenceEmbeddingCache
from qa.retrieval import ChannelQuery


@dataclass(frozen=True)
class CrossLingualAbstention:
    """P(answerable) = sigmoid(w . (similarity, margin) + bias) for channel-scored evidence.

    Fitted by bench/calibrate_crosslingual.py on XQuAD articles 00-11 (docs/quality.md): at
    the default threshold 0.2 it kept 96% of the answers and refused 65% of the questions
    whose article was absent (at 0.1, 99% and 45%).
    """

    weights: tuple[float, float] = (13.429, 7.689)
    bias: float = -6.347

    def probability(self, similarity: float, margin: float) -> float:
        """How likely the evidence answers the question, from 0 to 1."""
        z = self.bias + self.weights[0] * similarity + self.weights[1] * margin
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


# Sentences the channel scores per question: their cosines are all it has to tell them apart
# (term overlap is nil across scripts), and USE embeds them quickly (docs/performance.md).
MAX_CHANNEL_SENTENCES = 32
# A question word and a document word whose channel cosines reach this are read as each
# other's translation (反对 and "oppose" 0.81, 中国 and "China" 0.91; 国反, a bigram across two
# words, reaches 0.55 at best).
TRANSLATION_COSINE = 0.7
# Words, each CJK character counting as one (as qa.answer counts them).
_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]|[^\W\u3040-\u30ff\u3400-\u9fff]+")
# Search tokens (index.text) of CJK characters: a bigram or a lone character.
_CJK_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass(frozen=True)
class CrossLingualRanking:
    """What a sentence scored by the channel adds to its score, beside its own cosine.

    USE favours a short sentence naming the question's subject ("中国反对什么？": "China has
    always been on the side of multilateralism" over "We must oppose double standards"): the
    cosine of the sentence with its neighbours, the share of the question's words whose
    translations it uses, and its length (log words) tell the answer apart. Weights chosen on
    XQuAD articles 00-11 (docs/quality.md).
    """

    context: float = 0.5
    translated: float = 0.25
    length: float = 0.05


def words_of(text: str) -> list[str]:
    """The distinct words of text the channel translates: its search tokens' surfaces, CJK
    bigrams as they are (function words dropped)."""
    return list(dict.fromkeys(_surface_words(text)))


def _surface_words(text: str) -> Iterator[str]:
    for match in WORD.finditer(text.lower()):
        word = match.group(0)
        if _CJK_TOKEN.search(word):
            yield from tokenize(word)
        elif word not in STOPWORDS and tokenize(word):
            yield word


class CrossLingual:
    """The channel's side of answering: which sentences it scores, their cosines, P(answers)."""

    max_sentences = MAX_CHANNEL_SENTENCES

    def __init__(
        self, channel: Embedder | None, abstention: CrossLingualAbstention | None = None
    ) -> None:
        self.channel = channel
        self.abstention = abstention or CrossLingualAbstention()
        self.cache = SentenceEmbeddingCache(channel) if channel is not None else None
        self.words = SentenceEmbeddingCache(channel) if channel is not None else None
        self.weights = CrossLingualRanking()
        self._unrelated: np.ndarray | None = None
        self._lock = threading.Lock()

    def crossed(
        self, snapshot: IndexSnapshot, channel: ChannelQuery | None, doc_ids: Sequence[str]
    ) -> np.ndarray:
        """Which of the sentences (by their documents) the channel scores: a bool each."""
        if channel is None or channel.vector is None or self.cache is None:
            return np.zeros(len(doc_ids), bool)
        if channel.language != ENGLISH:
            return np.ones(len(doc_ids), bool)
        return np.array([snapshot.languages.get(d, ENGLISH) != ENGLISH for d in doc_ids], bool)

    def native(
        self, snapshot: IndexSnapshot, channel: ChannelQuery | None, doc_ids: Sequence[str]
    ) -> np.ndarray:
        """Which of the sentences the channel scores in the question's own language (a
        Chinese question on Chinese documents): a bool each."""
        crossed = self.crossed(snapshot, channel, doc_ids)
        if channel is None or channel.language == ENGLISH or not crossed.any():
            return np.zeros(len(doc_ids), bool)
        same = [snapshot.languages.get(d, ENGLISH) == channel.language for d in doc_ids]
        return crossed & np.array(same, bool)

    def similarities(
        self,
        snapshot: IndexSnapshot,
        keys: Sequence[tuple[str, int, int]],
        texts: Sequence[str],
        channel: ChannelQuery,
    ) -> np.ndarray:
        """The channel's cosine of the question with each sentence."""
        assert self.cache is not None and channel.vector is not None
        cache_keys = [
            (snapshot.documents[doc_id].content_hash, start, end) for doc_id, start, end in keys
        ]
        return self.cache.embed(cache_keys, list(texts)) @ channel.vector[0]

    def ranking(
        self,
        snapshot: IndexSnapshot,
        question: str,
        keys: Sequence[tuple[str, int, int]],
        texts: Sequence[str],
        contexts: Sequence[tuple[int, int]],
        channel: ChannelQuery,
    ) -> np.ndarray:
        """(context cosine, translated share, log words) of each sentence, a row each.

        contexts: the span of each sentence with its neighbours in its document.
        """
        assert self.cache is not None and channel.vector is not None
        spans = [(d, a, b) for (d, _, _), (a, b) in zip(keys, contexts, strict=True)]
        context = self.similarities(
            snapshot, spans, [snapshot.text(d, a, b) for d, a, b in spans], channel
        )
        translated = self.translated_share(snapshot, question, texts)
        words = np.array([max(len(_WORDS.findall(t)), 1) for t in texts], np.float32)
        return np.column_stack([context, translated, np.log(words)]).astype(np.float32)

    def translated_share(
        self, snapshot: IndexSnapshot, question: str, texts: Sequence[str]
    ) -> np.ndarray:
        """The IDF-weighted share of the question's translatable words each text uses a
        translation of (by the channel's word cosines; numbers are matched as terms)."""
        asked = [w for w in words_of(question) if not w.isdigit()]
        used = [[w for w in words_of(t) if not w.isdigit()] for t in texts]
        vocabulary = list(dict.fromkeys(w for words in used for w in words))
        if not asked or not vocabulary:
            return np.zeros(len(texts), np.float32)
        vectors = self.word_vectors([*asked, *vocabulary])
        matches = vectors[: len(asked)] @ vectors[len(asked) :].T >= TRANSLATION_COSINE
        translatable = matches.any(axis=1)
        if not translatable.any():
            return np.zeros(len(texts), np.float32)
        column = {w: i for i, w in enumerate(vocabulary)}
        # present[q, t]: text t uses a translation of question word q.
        present = np.zeros((len(asked), len(texts)), bool)
        for row, words in enumerate(used):
            if words:
                present[:, row] = matches[:, [column[w] for w in words]].any(axis=1)
        # A question word weighs what its rarest translation does in the collection, times how
        # few of these texts use one: the question's subject (中国: "China") is in most of them.
        idf = np.array([snapshot.idf((tokenize(w) or [w])[0]) for w in vocabulary])
        rarity = np.log((len(texts) + 1) / (present.sum(axis=1) + 0.5))
        weights = np.where(matches, idf[None, :], 0.0).max(axis=1) * rarity
        if weights.sum() <= 0:
            return np.zeros(len(texts), np.float32)
        return ((weights @ present) / weights.sum()).astype(np.float32)

    def word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """The channel's unit vectors of single words (cached by the word)."""
        assert self.words is not None
        return self.words.embed([(w, 0, 0) for w in words], list(words))

    def probability(self, similarity: float, channel: ChannelQuery) -> float:
        """P(the best sentence, of channel cosine `similarity`, answers the question)."""
        assert self.channel is not None and channel.vector is not None
        return self.abstention.probability(similarity, similarity - self.unrelated(channel))

    def unrelated(self, channel: ChannelQuery) -> float:
        """The question's mean channel cosine with sentences about other subjects."""
        assert self.channel is not None and channel.vector is not None
        with self._lock:
            if self._unrelated is None:
                self._unrelated = self.channel.embed_batch(list(UNRELATED_SENTENCES))
            unrelated = self._unrelated
        return float((unrelated @ channel.vector[0]).mean())
