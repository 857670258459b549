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
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from index.language import ENGLISH
from index.snapshot import IndexSnapshot
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


class CrossLingual:
    """The channel's side of answering: which sentences it scores, their cosines, P(answers)."""

    max_sentences = MAX_CHANNEL_SENTENCES

    def __init__(
        self, channel: Embedder | None, abstention: CrossLingualAbstention | None = None
    ) -> None:
        self.channel = channel
        self.abstention = abstention or CrossLingualAbstention()
        self.cache = SentenceEmbeddingCache(channel) if channel is not None else None
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
