"""Which words of a claim its evidence accounts for, and which it contradicts with another word.

A content word of the claim is accounted for when the evidence has it (same stem), spells it as
an alias or acronym, or has a number of the same value. An unaccounted word is contradicted when
the evidence has a contrasting word in its place: an antonym, a morphological contrast
(developed/developing, unilateralism/multilateralism, legal/illegal), another number, or another
name in the same role (next to the same word).

The antonyms are a small list written here (extending the opposite-polarity groups of
`qa.cues`), plus the morphological rules. WordNet would be the maintained resource, but on PyPI
the `wn` package and NLTK fetch its data at run time (no network here), the PyPI names that
claim to bundle it are thin wrappers, and WordNet has few antonyms for the verbs a statement
turns on (support/oppose, join/withdraw); Debian's wordnet-base would add an apt step to every
machine for a few dozen pairs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from index.text import STOPWORDS, tokenize
from qa.cues import (
    NEGATIONS,
    POLARITY_GROUPS,
    alias_terms,
    names,
    negation_count,
    negation_terms,
    numbers,
)

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")

# Antonym pairs beyond the opposite-polarity groups of qa.cues (each side's words stemmed).
_ANTONYMS: tuple[tuple[str, str], ...] = (
    ("accept accepts approve ratify adopt", "reject rejects refuse veto"),
    ("join joins enter", "leave withdraw exit quit"),
    ("win victory succeed", "lose defeat"),
    ("peace peaceful", "war conflict"),
    ("ally allies friend", "enemy enemies adversary"),
    ("cooperation cooperate", "confrontation competition rivalry"),
    ("rich wealthy", "poor"),
    ("open", "close closed"),
    ("public", "private"),
    ("domestic", "foreign"),
    ("majority", "minority"),
    ("first", "last"),
    ("next", "last previous"),
    ("new", "old"),
    ("future", "past"),
    ("north northern", "south southern"),
    ("east eastern", "west western"),
    ("import imports", "export exports"),
    ("mandatory compulsory", "voluntary optional"),
    ("certain", "uncertain"),
    ("early", "late"),
    ("high", "low"),
    ("large big huge", "small little tiny"),
    ("men male", "women female"),
    ("children child", "adults adult"),
    ("inside", "outside"),
    ("behind for", "against"),
    ("direct directly", "indirect indirectly"),
)

# Prefixes that turn a word into its contrast (stems compared after removing them).
_PREFIX_PAIRS: tuple[tuple[str, str], ...] = (
    ("uni", "multi"),
    ("uni", "bi"),
    ("bi", "multi"),
    ("mono", "poly"),
    ("pre", "post"),
    ("over", "under"),
    ("inter", "intra"),
    ("hyper", "hypo"),
    ("", "un"),
    ("", "in"),
    ("", "im"),
    ("", "il"),
    ("", "ir"),
    ("", "non"),
    ("", "dis"),
    ("", "anti"),
    ("", "de"),
    ("", "inter"),
)
_MIN_BASE = 4
# Stopwords that carry a claim's polarity ("rallied against" / "rallied behind"): compared, not
# skipped.
_POLAR_STOPWORDS = frozenset({"against", "for"})
# Verbs that attribute a statement ("Zhang Jun stressed that ..."): like negation words they say
# how the claim is put, not what it states, so the evidence need not repeat them. ("say" and its
# forms are stopwords already.)
REPORTING = frozenset(
    tokenize(
        "stress stressed note noted point pointed urge urged call called add added emphasize "
        "emphasized state stated declare declared tell told argue argued insist insisted "
        "underline underlined highlight highlighted reiterate reiterated",
        drop_stopwords=False,
    )
)


@dataclass(frozen=True)
class Contrast:
    """A word of the claim and the evidence's word in its place."""

    claim_word: str
    evidence_word: str
    kind: str  # antonym, form, number or name (contradicting); swap (another word)
    # The evidence word stands in the claim word's role (a neighbouring content word in common):
    # an antonym elsewhere in a long sentence ("increased X ... reduced Y") is no contrast.
    aligned: bool = True


@dataclass(frozen=True)
class Accounting:
    """How the evidence accounts for the claim's content words."""

    unaccounted: tuple[str, ...]
    contrasts: tuple[Contrast, ...]
    # Unaccounted claim words whose place the evidence fills with another word ("original
    # version" against "current version"): a different claim unless the words are synonyms.
    swaps: tuple[Contrast, ...] = ()


@lru_cache(maxsize=1)
def _antonyms() -> frozenset[tuple[str, str]]:
    """Stemmed antonym pairs, both orders."""
    pairs: set[tuple[str, str]] = set()
    groups = [*POLARITY_GROUPS, *_ANTONYMS]
    for left, right in groups:
        for a in tokenize(left, drop_stopwords=False):
            for b in tokenize(right, drop_stopwords=False):
                if a != b:
                    pairs.update({(a, b), (b, a)})
    return frozenset(pairs)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stems = tokenize(word, drop_stopwords=False)
    return stems[0] if stems else word.lower()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.replace("’", "'"))


@lru_cache(maxsize=65536)
def form_contrast(a: str, b: str) -> bool:
    """True when a and b differ by a contrasting prefix on the same base.

    Unilateralism/multilateralism, legal/illegal, compliance/noncompliance. Compared as written
    and as stems (the stemmer may cut the two differently); the base must have at least four
    letters, so short words do not match by accident.
    """
    a, b = a.lower(), b.lower()
    if a == b:
        return False
    return _prefix_contrast(a, b) or _prefix_contrast(_stem(a), _stem(b))


def _prefix_contrast(a: str, b: str) -> bool:
    # The base is what both words end with: four letters in common at the end, or no contrast.
    if a == b or len(a) < _MIN_BASE or len(b) < _MIN_BASE or a[-_MIN_BASE:] != b[-_MIN_BASE:]:
        return False
    for left, right in _PREFIX_PAIRS:
        for x, y in ((a, b), (b, a)):
            if x.startswith(left) and y.startswith(right):
                base_x, base_y = x[len(left) :], y[len(right) :]
                if base_x == base_y and len(base_x) >= _MIN_BASE:
                    return True
    return False


def _participle_contrast(claim_words: list[str], evidence_words: list[str]) -> list[Contrast]:
    """Developed/developing: the same verb as -ed in one and -ing in the other, before one noun.

    The stems are equal, so stem matching would count the word as accounted for; as adjectives
    the two forms name different things ("developed countries", "developing countries").
    """
    found = []
    lowered = [w.lower() for w in evidence_words]
    evidence_surface = set(lowered)
    for i, word in enumerate(claim_words[:-1]):
        w = word.lower()
        if w in evidence_surface or not (w.endswith("ed") or w.endswith("ing")):
            continue
        following = _stem(claim_words[i + 1].lower())
        for j, other in enumerate(lowered[:-1]):
            if (
                other != w
                and (other.endswith("ed") or other.endswith("ing"))
                and w.endswith("ed") != other.endswith("ed")
                and _stem(other) == _stem(w)
                and _stem(lowered[j + 1]) == following
            ):
                found.append(Contrast(word, evidence_words[j], "form"))
                break
    return found


def _neighbours(words: list[str], index: int) -> set[str]:
    """Stems of the content words just before and after words[index]."""
    found = set()
    for step in (-1, 1):
        k = index + step
        while 0 <= k < len(words) and words[k].lower() in STOPWORDS:
            k += step
        if 0 <= k < len(words):
            found.add(_stem(words[k].lower()))
    return found


def account(claim: str, evidence: str, in_document: set[str] | None = None) -> Accounting:
    """The claim's content words the evidence lacks, and those it replaces with a contrast.

    Names may be accounted for by the evidence's whole document (in_document, its terms): a
    name is often spelled out once and implied after. Negation words are left out here (their
    mismatch is a cue of its own).
    """
    claim_words = _words(claim)
    evidence_words = _words(evidence)
    evidence_stems = {_stem(w.lower()) for w in evidence_words}
    covered = evidence_stems | alias_terms(claim, evidence)
    claim_numbers, evidence_numbers = numbers(claim), numbers(evidence)
    # Names: capitalised words (the first word too, unless a function word: "Brazil said").
    claim_names = {n.lower() for n in names(claim)}
    if claim_words and claim_words[0][:1].isupper() and claim_words[0].lower() not in STOPWORDS:
        claim_names.add(claim_words[0].lower())
    claim_stems = {_stem(w.lower()) for w in claim_words}
    document = in_document or set()
    antonyms = _antonyms()
    negations = negation_terms(claim_stems)
    unaccounted: list[str] = []
    contrasts: list[Contrast] = []
    swaps: list[Contrast] = []
    seen: set[str] = set()
    for i, word in enumerate(claim_words):
        lower = word.lower()
        stem = _stem(lower)
        function_word = lower in STOPWORDS and lower not in _POLAR_STOPWORDS
        if function_word or stem in negations or stem in REPORTING or stem in seen:
            continue
        seen.add(stem)
        if numbers(word) or any(c.isdigit() for c in word):
            continue  # numbers are compared by value below
        if stem in covered or (lower in claim_names and stem in document):
            continue
        contrast = _contrast_for(
            word, stem, lower in claim_names, claim_words, i, evidence_words, claim_stems, antonyms
        )
        if contrast:
            contrasts.append(contrast)
        elif not function_word and lower not in _POLAR_STOPWORDS:
            unaccounted.append(word)
            swap = _swap_for(word, claim_words, i, evidence_words, claim_stems)
            if swap:
                swaps.append(swap)
    missing = sorted(claim_numbers - evidence_numbers)
    others = sorted(evidence_numbers - claim_numbers)
    for number in missing:
        other = _number_in_role(number, claim_words, evidence_words, claim_numbers)
        if other is None and len(missing) == 1 and len(others) == 1:
            other = others[0]  # one number changed, whatever its neighbours
        if other is not None:
            contrasts.append(Contrast(number, other, "number"))
        else:
            unaccounted.append(number)
    contrasts.extend(_participle_contrast(claim_words, evidence_words))
    return Accounting(tuple(unaccounted), tuple(contrasts), tuple(swaps))


def _swap_for(
    word: str, claim_words: list[str], index: int, evidence_words: list[str], claim_stems: set[str]
) -> Contrast | None:
    """The evidence word between the same content words as the claim's unaccounted word.

    Both neighbours must match where the claim word has two, so a paraphrase that rewords a
    passage does not read as a one-word change.
    """
    role = _neighbours(claim_words, index)
    if not role or role <= {_stem(word.lower())}:
        return None
    for j, other in enumerate(evidence_words):
        lower = other.lower()
        if lower in STOPWORDS or numbers(other) or _stem(lower) in claim_stems:
            continue
        if role <= _neighbours(evidence_words, j):
            return Contrast(word, other, "swap")
    return None


def _contrast_for(
    word: str,
    stem: str,
    is_name: bool,
    claim_words: list[str],
    index: int,
    evidence_words: list[str],
    claim_stems: set[str],
    antonyms: frozenset[tuple[str, str]],
) -> Contrast | None:
    """The evidence word that stands where the claim's unaccounted word would, if any: an
    antonym or contrasting form in the same role first, else one elsewhere (not aligned)."""
    role = _neighbours(claim_words, index)
    elsewhere = None
    for j, other in enumerate(evidence_words):
        lower = other.lower()
        other_stem = _stem(lower)
        if (lower in STOPWORDS and lower not in _POLAR_STOPWORDS) or other_stem in claim_stems:
            continue
        kind = (
            "antonym"
            if (stem, other_stem) in antonyms
            else "form"
            if form_contrast(word, other)
            else None
        )
        aligned = bool(role & _neighbours(evidence_words, j))
        if kind is not None:
            if aligned:
                return Contrast(word, other, kind)
            elsewhere = elsewhere or Contrast(word, other, kind, aligned=False)
            continue
        if is_name and other[:1].isupper() and not numbers(other) and aligned:
            return Contrast(word, other, "name")
    return elsewhere


@lru_cache(maxsize=1)
def _polar_stems() -> frozenset[str]:
    return frozenset(a for a, _ in _antonyms())


def polar_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words that state a direction or polarity (an antonym or opposite-polarity list's:
    increases, reduces, supports, worsens, scarce...)."""
    return tuple(w for w in words if _stem(w.lower()) in _polar_stems())


def _opposite_words() -> dict[str, list[str]]:
    """Each listed word and the words on the other side of its pair (surface forms)."""
    table: dict[str, list[str]] = {}
    for left, right in [*POLARITY_GROUPS, *_ANTONYMS]:
        for a, b in ((left.split(), right.split()), (right.split(), left.split())):
            for word in a:
                table.setdefault(word, []).extend(b)
    return table


# For generating training claims: each antonym-list word and its opposites.
POLARITY_AND_ANTONYM_WORDS = _opposite_words()


def _number_in_role(
    number: str, claim_words: list[str], evidence_words: list[str], claim_numbers: set[str]
) -> str | None:
    """The evidence's other number next to the same word as the claim's number, if any."""
    roles = [_neighbours(claim_words, i) for i, w in enumerate(claim_words) if number in numbers(w)]
    role = set().union(*roles) if roles else set()
    for j, word in enumerate(evidence_words):
        value = numbers(word)
        if value and not value & claim_numbers and role & _neighbours(evidence_words, j):
            return sorted(value)[0]
    return None


def document_subjects(title: str, text: str, top: int = 5) -> set[str]:
    """Stems of the names a document is about: its title's, and its most frequent ones.

    They account for a claim's name anywhere in the document (a statement says "we" for the
    country whose name it gives a few times); rarer names must be in the sentence itself.
    """
    counts = Counter(w for w in _words(text) if w[:1].isupper() and w.lower() not in STOPWORDS)
    frequent = [w for w, _ in counts.most_common(top)]
    found = {_stem(w.lower()) for w in frequent}
    found.update(tokenize(title))
    return found


def _negated_stems(text: str) -> set[str]:
    """Stems of the content words that follow a negation word within three words."""
    words = [w.lower() for w in _words(text)]
    found = set()
    for i, word in enumerate(words):
        if word in NEGATIONS:
            for other in words[i + 1 : i + 4]:
                if other not in STOPWORDS and other not in NEGATIONS:
                    found.add(_stem(other))
                    break
    return found


def negation_mismatch(claim: str, evidence: str) -> bool:
    """The claim and the evidence differ in negation: in the parity of negation words, or in
    which shared word a negation applies to ("has changed" against "has not changed", even
    where the evidence has another negation, "no matter how")."""
    if negation_count(claim) % 2 != negation_count(evidence) % 2:
        return True
    return negated_shared_differ(claim, evidence)


def negated_shared_differ(claim: str, evidence: str) -> bool:
    """A negation applies to a word the claim and the evidence share in one and not the other."""
    shared = {_stem(w.lower()) for w in _words(claim)} & {
        _stem(w.lower()) for w in _words(evidence)
    }
    return (_negated_stems(claim) & shared) != (_negated_stems(evidence) & shared)


def negation_aligned(claim: str, evidence: str) -> bool:
    """A negation mismatch on what the claim states: a negation bears on a shared word in one
    and not the other, or the claim negates and the evidence has no negation at all.

    A negation elsewhere in a long evidence sentence ("no difference in X; Y rose") does not
    bear on the claim "Y rose": counting parity there flagged true SciFact claims contradicted.
    """
    if negated_shared_differ(claim, evidence):
        return True
    return negation_count(claim) % 2 == 1 and negation_count(evidence) == 0
