"""Whether the retrieved evidence answers the question: a small logistic model over signals.

No reader or NLI model is packaged, so the decision combines what can be computed here: the
MiniLM similarity of the best sentence, how much of the question's (IDF-weighted) terms it and
its passage contain, the fused retrieval score, and how much of the question is about words the
collection never uses. The weights were fitted by `bench/calibrate.py` on SQuAD 2.0 (answerable
vs. unanswerable questions) and out-of-domain questions; README "Quality" shows the curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from index.snapshot import IndexSnapshot
from index.text import tokenize

# Keeps 99.6% of correctly answered squad2 questions; see the curve in README, Quality.
ABSTAIN_THRESHOLD = 0.1
FEATURES = ("similarity", "overlap", "fused", "dense_top", "unknown", "passage_overlap")


@dataclass(frozen=True)
class AbstentionModel:
    """P(answerable) = sigmoid(weights . features + bias); abstain below the threshold."""

    # Fitted by bench/calibrate.py on squad2 + bench/data/ood_questions.jsonl (README, Quality).
    weights: tuple[float, ...] = (3.004, 2.273, 5.784, -2.414, -1.799, -2.385)
    bias: float = -4.354
    threshold: float = ABSTAIN_THRESHOLD

    def probability(self, features: Sequence[float]) -> float:
        """How likely the evidence answers the question, from 0 to 1."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class TermWeights:
    """A question's terms and their IDF weights, looked up once per question."""

    def __init__(self, snapshot: IndexSnapshot, terms: set[str]) -> None:
        self.weights = {term: snapshot.idf(term) for term in terms}
        self.total = sum(self.weights.values())

    def share(self, present: set[str]) -> float:
        """The IDF-weighted share of the terms that are in present."""
        if not self.total:
            return 0.0
        return sum(w for term, w in self.weights.items() if term in present) / self.total


def idf_share(snapshot: IndexSnapshot, terms: set[str], present: set[str]) -> float:
    """The IDF-weighted share of terms that are in present."""
    return TermWeights(snapshot, terms).share(present)


def unknown_share(snapshot: IndexSnapshot, terms: set[str]) -> float:
    """The IDF-weighted share of the question's terms that no chunk contains."""
    known = {t for t in terms if snapshot.keywords.document_frequency.get(t, 0) > 0}
    return 1.0 - idf_share(snapshot, terms, known) if terms else 0.0


def passage_overlap(snapshot: IndexSnapshot, terms: set[str], passages: Sequence[str]) -> float:
    """The best IDF-weighted coverage of the question's terms by one passage."""
    weights = TermWeights(snapshot, terms)
    return max((weights.share(set(tokenize(p))) for p in passages), default=0.0)
