"""Whether the retrieved evidence answers the question: a small logistic model over signals.

No reader or NLI model is packaged, so the decision combines what can be computed here, each
meaning the same on one document as on 100,000 chunks: the MiniLM similarity of the best
sentence and its margin over what unrelated text scores for the same question (a fixed set of
sentences on other subjects), how much of the question's topic terms (or their aliases) the
best sentence and its passage contain, how much of the topic the collection uses anywhere,
whether a name or number the question asks about occurs nowhere, and whether a question asking
"how many" meets a sentence without a number. The weights were fitted by `bench/calibrate.py`
on the staff set's tune half, SQuAD 2.0 and out-of-domain questions; docs/quality.md has the
curve.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.snapshot import IndexSnapshot
from index.text import tokenize

# Keeps 97% of the staff tune half's answers and 99% of squad2's; refuses 86% of the staff
# tune half's unanswerable and 93% of out-of-domain questions (docs/quality.md, the curve).
ABSTAIN_THRESHOLD = 0.2
FEATURES = (
    "similarity",
    "margin",
    "overlap",
    "passage_overlap",
    "known",
    "key_missing",
    "key_outside_passage",
    "number_missing",
)

# What a question about something else scores: sentences on subjects no collection here is
# about. Their mean similarity to the question is its floor, whatever the collection's size.
UNRELATED_SENTENCES = (
    "Boil the pasta in salted water for nine minutes, then drain it.",
    "The striker scored twice in the second half of the match.",
    "Light rain is expected in the afternoon with a cool breeze.",
    "Press the power button for five seconds to restart the phone.",
    "The recipe needs two eggs, a cup of flour and some butter.",
    "Our hotel room had a view of the beach and the old harbour.",
    "The guitarist tuned her instrument before the concert began.",
    "Water the tomato plants every morning during the summer.",
    "The cat slept on the warm windowsill all afternoon.",
    "Train tickets are cheaper when booked a month in advance.",
    "The museum is closed on Mondays and public holidays.",
    "He painted the kitchen walls a pale shade of green.",
    "Mix the paint thoroughly before applying a second coat.",
    "The novel follows a detective through the streets of an old city.",
    "Change the engine oil every ten thousand kilometres.",
    "The bakery on the corner sells fresh bread every morning.",
    "Our team won the chess tournament after a long final game.",
    "The film was nominated for three awards for its soundtrack.",
    "Wear comfortable shoes for the long hike up the hill.",
    "The software update fixes a bug in the photo gallery.",
    "Stir the soup slowly and add salt to taste.",
    "The children built a sandcastle near the water.",
    "Her favourite dessert is chocolate cake with cream.",
    "The battery of the laptop lasts about eight hours.",
    "Birds migrate south when the days grow shorter.",
    "The gym opens at six and closes at ten at night.",
    "They adopted a puppy from the animal shelter last week.",
    "The violin lesson starts at four o'clock on Thursdays.",
    "Knit the scarf with soft wool in two colours.",
    "The printer needs a new ink cartridge.",
    "Fresh strawberries are in season in early summer.",
    "The marathon route passes through the city park.",
)
# Questions that ask for a count or an amount ("how long" is often answered in words),
_WANTS_NUMBER = re.compile(
    r"\b(?:how (?:many|much|old)|what (?:percentage|percent|number|year)|which year|"
    r"in what year)\b",
    re.IGNORECASE,
)
# and those that ask for a date.
_WANTS_DATE = re.compile(r"^\W*when\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundreds?|"
    r"thousands?|millions?|billions?|half|dozens?|percent|single|once|twice|double|triple|"
    r"first|second|third|several|none)\b",
    re.IGNORECASE,
)
# A time said in words.
_TIME = re.compile(
    r"\b(?:years?|months?|weeks?|days?|decades?|century|ago|today|now|recently|yesterday|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"spring|summer|autumn|winter|since|until|after|before|during)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AbstentionModel:
    """P(answerable) = sigmoid(weights . features + bias); abstain below the threshold."""

    # Fitted by bench/calibrate.py (docs/quality.md): staff tune half + squad2 + out of domain.
    weights: tuple[float, ...] = (-2.785, 8.424, 5.172, -1.81, 0.937, 0.976, -3.063, -4.292)
    bias: float = -4.545
    threshold: float = ABSTAIN_THRESHOLD

    def probability(self, features: Sequence[float]) -> float:
        """How likely the evidence answers the question, from 0 to 1."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def wants_number(question: str) -> bool:
    """Whether the question asks for a count, an amount or a date."""
    return _WANTS_NUMBER.search(question) is not None or wants_date(question)


def wants_date(question: str) -> bool:
    """Whether the question asks when."""
    return _WANTS_DATE.search(question) is not None


def has_number(text: str, date: bool = False) -> bool:
    """Whether text states a number in digits or words (with date: or a time)."""
    return _NUMBER.search(text) is not None or (date and _TIME.search(text) is not None)


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
