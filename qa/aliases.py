"""Words that name the same thing in a question and in the documents.

Three bridges, each checked against the collection itself, so nothing is added that the
documents do not use: acronyms and their expansions ("INTERPOL" and "International Criminal
Police Organization"), morphological variants the stemmer keeps apart ("Africa" and "African"),
and spelling mistakes corrected to the nearest word of the collection's vocabulary (rapidfuzz's
optimal-string-alignment distance: a swap of two letters is one edit). The acronym matcher is
written by hand: no maintained library spells an acronym from word prefixes ("Inter" + "pol").
The fact checker (qa/cues.py) uses it too.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from index.snapshot import IndexSnapshot
from index.text import HYPHENATED_WORD, STOPWORDS, tokenize

_WORD = HYPHENATED_WORD
# Words that sit lower-case inside a proper name ("Convention against Crime").
NAME_JOINERS = frozenset("of the and for on against in to de la du von van".split())
# Endings that make a related word the stemmer does not fold ("Africa"/"African",
# "Europe"/"European", "Japan"/"Japanese"); only pairs the collection both uses are joined.
VARIANT_ENDINGS = ("n", "an", "ian", "ean", "ese", "ish", "ic")
# Collections larger than this are not scanned whole for name phrases (seconds per 10 MB);
# their acronyms are expanded from the retrieved passages only.
FULL_SCAN_CHARS = 20_000_000
MIN_CORRECTED_LENGTH = 4
# A word is read as two run together only when each part has this many letters.
COMPOUND_PART = 4

RewriteKind = Literal["alias", "variant", "spelling"]


@dataclass(frozen=True)
class Rewrite:
    """A word of the question read as another one the documents use."""

    kind: RewriteKind
    source: str
    target: str


@dataclass(frozen=True)
class TermGroup:
    """A search term of the question and what counts as it: itself or one of its alternatives.

    An alternative is a set of tokens that must all be present ("International Criminal Police
    Organization" for "interpol"; "african" for "africa").
    """

    term: str
    alternatives: tuple[frozenset[str], ...] = ()

    @property
    def tokens(self) -> frozenset[str]:
        """Every token of the term and its alternatives."""
        return frozenset({self.term}.union(*self.alternatives))

    def found_in(self, present: set[str] | frozenset[str]) -> bool:
        """Whether the term or one of its alternatives is wholly in present."""
        return self.term in present or any(a <= present for a in self.alternatives)

    def with_alternatives(self, alternatives: Iterable[Iterable[str]]) -> TermGroup:
        group = self
        for tokens in alternatives:
            group = group.with_alternative(tokens)
        return group

    def with_alternative(self, tokens: Iterable[str]) -> TermGroup:
        alternative = frozenset(tokens)
        if not alternative or alternative in self.alternatives or alternative == {self.term}:
            return self
        return TermGroup(self.term, (*self.alternatives, alternative))


def name_phrases(text: str) -> list[list[str]]:
    """Runs of capitalised words (with joiners such as "of"), as word lists."""
    phrases: list[list[str]] = []
    for clause in re.split(r"[,;:.!?()\[\]\"“”]", text):
        current: list[str] = []
        for word in [*_WORD.findall(clause), ""]:
            if word and (word[0].isupper() or (current and word.lower() in NAME_JOINERS)):
                current.append(word)
            else:
                current = _strip_joiners(current)
                if len(current) >= 2:
                    phrases.append(current)
                current = []
    return phrases


def _strip_joiners(phrase: list[str]) -> list[str]:
    while phrase and phrase[-1].lower() in NAME_JOINERS:
        phrase = phrase[:-1]
    return phrase


def abbreviates(short: str, phrase: Sequence[str]) -> bool:
    """True when short is spelled by prefixes of phrase's words in order, from two or more words.

    "UN" abbreviates "United Nations", "INTERPOL" "International Criminal Police
    Organization" (Inter- + Pol-). Words may be skipped; joiners like "of" often are.
    """
    letters = "".join(c for c in short.lower() if c.isalnum())
    words = [w.lower() for w in phrase]
    if len(letters) < 2 or len(words) < 2:
        return False

    @cache
    def match(i: int, w: int, used: int) -> bool:
        if i == len(letters):
            return used >= 2
        for k in range(w, len(words)):
            word = words[k]
            # The first letter must open the first word used; later words start where a
            # prefix of theirs continues the letters.
            if k > w and i == 0:
                return False
            n = 0
            while n < len(word) and i + n < len(letters) and word[n] == letters[i + n]:
                n += 1
                if match(i + n, k + 1, used + 1):
                    return True
        return False

    return any(match(0, start, 0) for start in range(len(words)))


def names(text: str) -> set[str]:
    """Words that look like names: capitalised after the first word, all-caps, or with digits."""
    found: set[str] = set()
    for i, match in enumerate(_WORD.finditer(text)):
        word = match.group(0)
        has_upper_inside = any(c.isupper() for c in word[1:])
        has_digit = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        if has_upper_inside or has_digit or (i > 0 and word[0].isupper()):
            found.add(word)
    return found


def is_acronym(word: str) -> bool:
    """All capitals, two letters or more ("UN", "INTERPOL", "COVID-19")."""
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


class CollectionNames:
    """The name phrases and acronyms a collection uses, found once per published version."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.phrases: dict[str, list[tuple[str, ...]]] = {}
        self.acronyms: set[str] = set()
        # Words as written (lower case), for corrections a misspelt stem would miss
        # ("legislatve" stems to "legislatv", far from "legisl").
        self.words: Counter[str] = Counter()
        seen: set[tuple[str, ...]] = set()
        for text in texts:
            for phrase in name_phrases(text):
                key = tuple(phrase)
                if key not in seen:
                    seen.add(key)
                    self.phrases.setdefault(key[0][0].lower(), []).append(key)
            found = _WORD.findall(text)
            self.acronyms.update(w for w in found if is_acronym(w))
            self.words.update(w.lower() for w in found if len(w) >= MIN_CORRECTED_LENGTH)
        self._choices = [w for w in self.words if w.isalpha()]

    def nearest_word(self, word: str) -> str | None:
        """The most used word within a small edit distance, with the same first letter."""
        word = word.lower()
        if len(word) < MIN_CORRECTED_LENGTH or not word.isalpha() or not self._choices:
            return None
        limit = 1 if len(word) <= 7 else 2
        matches = process.extract(
            word, self._choices, scorer=OSA.distance, score_cutoff=limit, limit=8
        )
        closest = [(d, -self.words[c], c) for c, d, _ in matches if c[0] == word[0]]
        return min(closest)[2] if closest else None

    def expansions(self, short: str) -> list[tuple[str, ...]]:
        """The collection's name phrases that short abbreviates."""
        if len(short) < 2:
            return []
        return [p for p in self.phrases.get(short[0].lower(), []) if abbreviates(short, p)]

    def abbreviations(self, phrase: Sequence[str]) -> list[str]:
        """The collection's acronyms that abbreviate phrase."""
        return sorted(a for a in self.acronyms if abbreviates(a, phrase))


class Vocabulary:
    """The collection's search tokens, for variants and spelling corrections."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.document_frequency = snapshot.keywords.document_frequency
        self.sorted = sorted(self.document_frequency)
        self._choices = [t for t in self.sorted if t.isalpha()]

    def __contains__(self, token: str) -> bool:
        return self.document_frequency.get(token, 0) > 0

    def variants(self, token: str) -> set[str]:
        """Tokens of the collection that are token with or without a related ending."""
        found = set()
        for ending in VARIANT_ENDINGS:
            if token.endswith(ending) and len(token) - len(ending) >= 4:
                stem = token[: -len(ending)]
                if stem in self:
                    found.add(stem)
            if len(token) >= 4 and token + ending in self:
                found.add(token + ending)
        return found

    def compounds(self, word: str) -> list[tuple[str, str]]:
        """The ways word runs two words of the collection together ("counterterrorism" as
        "counter" and "terrorism"), each part four letters or more."""
        word = word.lower()
        if not word.isalpha() or len(word) < 2 * COMPOUND_PART:
            return []
        found = []
        for cut in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
            head, tail = tokenize(word[:cut]), tokenize(word[cut:])
            if len(head) == 1 and len(tail) == 1 and head[0] in self and tail[0] in self:
                found.append((word[:cut], word[cut:]))
        return found

    def nearest(self, token: str) -> str | None:
        """The most used token within a small edit distance (1 up to 7 letters, else 2).

        The first letter must match: people mistype inside a word, and a different first
        letter turns a name the documents lack into one they have ("taliban", "taiwan").
        """
        if len(token) < MIN_CORRECTED_LENGTH or not token.isalpha() or not self._choices:
            return None
        limit = 1 if len(token) <= 7 else 2
        matches = process.extract(
            token, self._choices, scorer=OSA.distance, score_cutoff=limit, limit=8
        )
        if not matches:
            return None
        best = min(distance for _, distance, _ in matches)
        closest = [c for c, distance, _ in matches if distance == best and c[0] == token[0]]
        if not closest:
            return None
        return max(closest, key=lambda t: (self.document_frequency[t], t))


@cache
def _stopword_choices() -> list[str]:
    return sorted(w for w in STOPWORDS if len(w) >= 3 and w.isalpha())


def near_stopword(word: str) -> bool:
    """A misspelt function word ("abut", "wich"): one edit from one (four letters or more)."""
    if len(word) < 4:
        return False
    match = process.extractOne(
        word.lower(), _stopword_choices(), scorer=OSA.distance, score_cutoff=1
    )
    return match is not None


@dataclass(frozen=True)
class Bridged:
    """A question's search terms with what counts as each, and the rewrites that were used."""

    groups: tuple[TermGroup, ...]
    rewrites: tuple[Rewrite, ...]
    # The question as the documents would say it, for the embedding model.
    query: str

    @property
    def tokens(self) -> list[str]:
        """Every token that counts, for keyword search."""
        return sorted({t for g in self.groups for t in g.tokens})


class Bridge:
    """Reads a question's words as the ones the collection uses; one per published version.

    is_word says whether a word is a word of the language (the embedding model's tokenizer
    has it whole): such a word is never "corrected" into another just because the collection
    lacks it ("topics" is not a typo of "typical").
    """

    def __init__(
        self, snapshot: IndexSnapshot, is_word: Callable[[str], bool] | None = None
    ) -> None:
        self.snapshot = snapshot
        self.is_word = is_word
        self.vocabulary = Vocabulary(snapshot)
        self._names: CollectionNames | None = None
        self._scanned = False
        self._lock = threading.Lock()

    def names(self) -> CollectionNames | None:
        """The collection's name phrases, scanned at first use (None when it is too large)."""
        with self._lock:
            if not self._scanned:
                documents = self.snapshot.documents.values()
                if sum(len(d.text) for d in documents) <= FULL_SCAN_CHARS:
                    self._names = CollectionNames(d.text for d in documents)
                self._scanned = True
            return self._names

    def bridge(self, text: str, passages: Sequence[str] = ()) -> Bridged:
        """The terms of text, each with its aliases, variants or correction in the collection.

        passages (retrieved for text as asked) stand in for a collection too large to scan.
        """
        vocabulary = self.vocabulary
        groups: list[TermGroup] = []
        rewrites: list[Rewrite] = []
        replaced: dict[str, str] = {}
        names: CollectionNames | None = None
        seen: set[str] = set()
        words = _WORD.findall(text)
        shouted = text.upper() == text
        for position, word in enumerate(words):
            tokens = tokenize(word)
            if not tokens and is_acronym(word) and not shouted:
                # "the WHO", "IT": an acronym written in capitals is a name, not the function
                # word it spells (unless the whole question is in capitals).
                tokens = tokenize(word, drop_stopwords=False)
            if len(tokens) != 1:
                # "counter-terrorism", a CJK run: each token is a term of its own.
                for token in tokens:
                    if token not in seen:
                        seen.add(token)
                        groups.append(TermGroup(token))
                continue
            token = tokens[0]
            if token in seen:
                continue
            seen.add(token)
            group = TermGroup(token)
            # "counterterrorism" is also "counter terrorism" or "counter-terrorism"; a word the
            # model holds whole is one word ("international" is not "inter national").
            known_whole = self.is_word is not None and self.is_word(word.lower())
            for parts in [] if known_whole else vocabulary.compounds(word):
                group = group.with_alternative(tokenize(" ".join(parts)))
                rewrites.append(Rewrite("variant", word, " ".join(parts)))
            if token in vocabulary:
                for variant in sorted(vocabulary.variants(token)):
                    group = group.with_alternative([variant])
                if is_acronym(word) and not shouted:
                    # "US" is also "United States" where the collection spells it out (its
                    # token is the pronoun's too); the query is left as asked.
                    names = names or self._names_for(passages)
                    for expanded in tightest(names.expansions(word)):
                        group = group.with_alternative(tokenize(" ".join(expanded)))
                groups.append(group)
                continue
            names = names or self._names_for(passages)
            # The tightest expansions: "UN" is "United Nations" before "UN Ocean Conference".
            expansions = tightest(names.expansions(word)) if len(word) >= 2 else []
            if expansions:
                expansion = " ".join(expansions[0])
                for expanded in expansions:
                    group = group.with_alternative(tokenize(" ".join(expanded)))
                rewrites.append(Rewrite("alias", word, expansion))
                replaced[word] = f"{word} ({expansion})"
                groups.append(group)
                continue
            split = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", word)
            if split != word and all(t in vocabulary for t in tokenize(split)):
                # "COP30" is written "COP-30" in the documents.
                groups.append(group.with_alternative(tokenize(split)))
                replaced[word] = split
                continue
            capitalised = word[0].isupper() and position > 0
            if not capitalised and near_stopword(word):
                continue  # a misspelt "about": it names no topic
            variants = vocabulary.variants(token)
            corrected, surface = None, None
            known_word = self.is_word is not None and self.is_word(word.lower())
            if not capitalised and not variants and not known_word:
                collection = self.names()
                surface = collection.nearest_word(word) if collection is not None else None
                if surface is not None and len(tokenize(surface)) == 1:
                    corrected = tokenize(surface)[0]
                else:
                    corrected = vocabulary.nearest(token)
                    surface = None if corrected is None else self.surface(corrected, word)
            if variants:
                for variant in sorted(variants):
                    group = group.with_alternative([variant])
                rewrites.append(Rewrite("variant", word, sorted(variants)[0]))
            elif corrected is not None and surface is not None:
                group = group.with_alternative([corrected])
                rewrites.append(Rewrite("spelling", word, surface))
                replaced[word] = surface
            groups.append(group)
        for phrase in name_phrases(text):
            names = names or self._names_for(passages)
            phrase_tokens = set(tokenize(" ".join(phrase)))
            for short in names.abbreviations(phrase):
                short_tokens = tokenize(short)
                if not short_tokens or short_tokens[0] in seen:
                    continue
                seen.add(short_tokens[0])
                rewrites.append(Rewrite("alias", " ".join(phrase), short))
                # Each word of the phrase is found when the acronym is.
                groups = [
                    g.with_alternative(short_tokens) if g.term in phrase_tokens else g
                    for g in groups
                ]
        query = _WORD.sub(lambda m: replaced.get(m.group(0), m.group(0)), text)
        return Bridged(tuple(groups), tuple(rewrites), query)

    def with_other_names(
        self, bridged: Bridged, named: Sequence[tuple[str, Sequence[str]]]
    ) -> Bridged:
        """bridged with each named thing (as written, and its other names) also found by the
        names the collection uses: "the DPRK" by "North Korea"."""
        vocabulary = self.vocabulary
        groups, rewrites, query = list(bridged.groups), list(bridged.rewrites), bridged.query
        for surface, others in named:
            own = set(tokenize(surface))
            used = [
                tokens
                for tokens in (frozenset(tokenize(n)) for n in others)
                if tokens and tokens != own and all(t in vocabulary for t in tokens)
            ]
            if not own or not used:
                continue
            groups = [g.with_alternatives(used) if g.term in own else g for g in groups]
            if not all(t in vocabulary for t in own) and all(r.source != surface for r in rewrites):
                # The collection never writes it so: say which name was read instead.
                best = max(
                    (n for n in others if frozenset(tokenize(n)) in used),
                    key=lambda n: min(vocabulary.document_frequency[t] for t in tokenize(n)),
                )
                rewrites.append(Rewrite("alias", surface, best.title()))
                query = query.replace(surface, f"{surface} ({best.title()})", 1)
        return Bridged(tuple(groups), tuple(rewrites), query)

    def surface(self, token: str, asked: str) -> str:
        """The token as written in the chunk using it most, in the form closest to asked."""
        row, _ = self.snapshot.keywords.best(token)
        if row >= 0:
            chunk = self.snapshot.chunks[row]
            words = surface_words(token, self.snapshot.chunk_text(chunk))
            if words:
                return min(words, key=lambda w: (OSA.distance(w, asked.lower()), w))
        return token

    def _names_for(self, passages: Sequence[str]) -> CollectionNames:
        return self.names() or CollectionNames(passages)


def tightest(expansions: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The shortest expansions (at most two): "UN" is "United Nations" before "UN Ocean
    Conference"."""
    if not expansions:
        return []
    shortest = min(map(len, expansions))
    return [p for p in expansions if len(p) == shortest][:2]


def surface_words(token: str, text: str) -> set[str]:
    """The words of text whose search token is token, lower-cased."""
    return {
        word.lower()
        for word in _WORD.findall(text)
        if word[:1].lower() == token[:1] and tokenize(word) == [token]
    }


class GroupWeights:
    """A question's term groups and their IDF weights, looked up once per question."""

    def __init__(self, snapshot: IndexSnapshot, groups: Sequence[TermGroup]) -> None:
        self.groups = list(groups)
        self.weights = [group_weight(snapshot, g) for g in self.groups]
        self.total = sum(self.weights)

    def share(self, present: set[str] | frozenset[str]) -> float:
        """The IDF-weighted share of the groups found in present."""
        if not self.total:
            return 0.0
        pairs = zip(self.groups, self.weights, strict=True)
        return sum(w for g, w in pairs if g.found_in(present)) / self.total

    def known_share(self, snapshot: IndexSnapshot, rows: np.ndarray | None = None) -> float:
        """The IDF-weighted share of the groups the collection (rows: those chunks) uses
        somewhere."""
        if not self.total:
            return 1.0
        frequency = snapshot.keywords.document_frequency
        held: dict[str, bool] = {}
        if rows is not None:
            # A question confined to some documents asks whether they use the term: one
            # request for every token the collection uses.
            wanted = [t for g in self.groups for t in sorted(g.tokens) if frequency.get(t, 0) > 0]
            wanted = list(dict.fromkeys(wanted))
            held = dict(zip(wanted, snapshot.keywords.present(wanted, rows), strict=True))

        def used(token: str) -> bool:
            if rows is None:
                return frequency.get(token, 0) > 0
            return held.get(token, False)

        known = sum(
            w
            for g, w in zip(self.groups, self.weights, strict=True)
            if used(g.term) or any(all(used(t) for t in a) for a in g.alternatives)
        )
        return known / self.total


def group_weight(snapshot: IndexSnapshot, group: TermGroup) -> float:
    """The term's IDF; for a term the collection lacks, that of its best-known alternative."""
    if snapshot.keywords.document_frequency.get(group.term, 0) > 0 or not group.alternatives:
        return snapshot.idf(group.term)
    return min(max(snapshot.idf(t) for t in a) for a in group.alternatives)
