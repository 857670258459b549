"""Lexical cues for fact checking: numbers, names, aliases, negation and opposite polarity."""

from __future__ import annotations

import re
from functools import lru_cache

from index.text import HYPHENATED_WORD as _WORD
from index.text import tokenize

# Names and acronyms are matched by the one mechanism questions use too (qa/aliases.py).
from qa.aliases import abbreviates as abbreviates
from qa.aliases import name_phrases as name_phrases
from qa.aliases import names as names

_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+(?:\.\d+)?")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
    "half": "0.5", "once": "1", "twice": "2", "single": "1", "double": "2", "triple": "3",
}  # fmt: skip

# Words that negate the statement they are in. Matched on lower-cased words, unstemmed.
NEGATIONS = frozenset(
    """not no never none nor neither without cannot can't won't don't doesn't didn't isn't aren't
    wasn't weren't hasn't haven't hadn't shouldn't wouldn't couldn't mustn't nothing nobody
    lack lacks lacking lacked absence absent fail fails failed unable neither""".split()
)

# Opposite-polarity words: a claim using one side where the evidence uses only the other reads
# as a contradiction. Stemmed at first use, so inflections match ("raises", "raised").
POLARITY_GROUPS: tuple[tuple[str, str], ...] = (
    (
        "increase raise raises elevate elevated enhance higher more greater upregulate upregulated "
        "promote activate stimulate induce strengthen improve improves rise rises gain augment "
        "accelerate amplify boost exceed above maximum larger longer",
        "decrease reduce reduces lower fewer less smaller downregulate downregulated inhibit "
        "suppress weaken worsen decline falls loss impair attenuate diminish slow slows "
        "shorten below minimum shorter",
    ),
    ("support supports favor endorse accept agree welcome", "oppose opposes reject disagree"),
    ("positive positively", "negative negatively"),
    ("benefit beneficial protective protect", "harm harmful detrimental damage"),
    ("safe safety", "unsafe dangerous toxic"),
    ("success successful effective", "failure unsuccessful ineffective"),
    ("always", "never"),
    ("presence present", "absence absent"),
    ("same similar identical unified uniform", "different differ distinct"),
    ("allow permit legal", "prohibit forbid ban illegal"),
    ("include includes", "exclude excludes"),
    ("strong stronger", "weak weaker"),
    ("risk", "protection"),
    ("sufficient", "insufficient"),
    ("necessary required essential", "unnecessary dispensable"),
    ("unity", "division"),
    ("continue keep maintain", "stop cease halt discontinue abandon"),
)  # fmt: skip


@lru_cache(maxsize=1)
def _polarity() -> dict[str, tuple[int, int]]:
    """Each stem's (group, side)."""
    table: dict[str, tuple[int, int]] = {}
    for group, sides in enumerate(POLARITY_GROUPS):
        for side, words in enumerate(sides):
            for stem in tokenize(words, drop_stopwords=False):
                table.setdefault(stem, (group, side))
    return table


def numbers(text: str) -> set[str]:
    """The numbers of text, normalised ("1,000" -> "1000", "10%" -> "10", "five" -> "5")."""
    found = {_normalise_number(m.group(0)) for m in _NUMBER.finditer(text)}
    found.update(
        _NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS
    )
    return found


def _normalise_number(raw: str) -> str:
    value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def negation_count(text: str) -> int:
    """How many negation words text has."""
    return sum(1 for w in _WORD.findall(text.lower().replace("’", "'")) if w in NEGATIONS)


def polarity_terms(terms: set[str]) -> dict[int, set[int]]:
    """For each opposite-polarity group that terms touch, the sides they use."""
    table = _polarity()
    sides: dict[int, set[int]] = {}
    for term in terms:
        if term in table:
            group, side = table[term]
            sides.setdefault(group, set()).add(side)
    return sides


def negation_terms(terms: set[str]) -> set[str]:
    """The terms that are negation words (which say how, not what, a claim states)."""
    return {t for t in terms if t in NEGATIONS or t in _negation_stems()}


@lru_cache(maxsize=1)
def _negation_stems() -> frozenset[str]:
    return frozenset(tokenize(" ".join(NEGATIONS), drop_stopwords=False))


def counterpart_terms(claim_terms: set[str], evidence_terms: set[str]) -> set[str]:
    """Claim terms whose polarity group the evidence speaks to, on either side."""
    table = _polarity()
    evidence_groups = {table[t][0] for t in evidence_terms if t in table}
    return {t for t in claim_terms if t in table and table[t][0] in evidence_groups}


def opposite_polarity(claim_terms: set[str], evidence_terms: set[str]) -> bool:
    """True when the evidence uses only the opposite side of a polarity group the claim uses."""
    evidence = polarity_terms(evidence_terms)
    for group, sides in polarity_terms(claim_terms).items():
        other = evidence.get(group, set())
        if len(sides) == 1 and other and not other & sides:
            return True
    return False


def alias_terms(claim: str, evidence: str) -> set[str]:
    """Claim search terms that the evidence states under an abbreviation or its expansion."""
    covered: set[str] = set()
    evidence_words = set(_WORD.findall(evidence))
    evidence_phrases = name_phrases(evidence)
    for word in set(_WORD.findall(claim)):
        if (
            word[0].isupper()
            and word not in evidence_words
            and any(abbreviates(word, phrase) for phrase in evidence_phrases)
        ):
            covered.update(tokenize(word))
    short_forms = [w for w in evidence_words if len(w) >= 2 and w.isupper()]
    for phrase in name_phrases(claim):
        if any(abbreviates(short, phrase) for short in short_forms):
            covered.update(tokenize(" ".join(phrase)))
    return covered
