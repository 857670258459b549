"""Which documents a question is about, and what it asks about them.

"What did Brazil say about the Amazon?" names whose words it wants (Brazil's speech) and a topic
(the Amazon). A document is named by its speaker (the name its title opens with,
"Zhang Jun: ...", a "statement by" line, or the name a report opens with, "Zhang Jun said
that"; a person a speech names later, "President Xi Jinping stressed", is not its speaker), its
country (the UN corpus's `iso3`, or for a statement without one the country it speaks for most)
or its title; countries are named by pycountry's names and countryinfo's demonyms, capitals and
other spellings, not a hand list.
The named documents restrict the search, and the naming words leave the topic, so that the
topic alone decides which sentence is cited. "He", "the ambassador" or "the speaker" name the
speaker of whichever document answers: they leave the topic too but restrict nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

import pycountry
from countryinfo import CountryInfo

from index.store import StoredDocument
from index.text import WORD, tokenize

_WORD = WORD
# A run of word characters, as the regex's word boundaries see them.
_RUN = re.compile(r"\w+")
# Words that refer to the speaker or the document without naming it.
SPEAKER_WORDS = frozenset(
    "he she him her his hers ambassador speaker representative delegate author statement speech "
    "remarks address envoy minister delegation".split()
)
# Roles that name a statement's speaker without naming the person.
ROLE_WORDS = frozenset("ambassador speaker representative delegate envoy minister author".split())
# Titles that precede a speaker's name in a statement ("President Xi Jinping said").
TITLE_WORDS = frozenset(
    "president prime minister foreign secretary general ambassador chancellor king queen "
    "mr mrs ms dr his her excellency premier vice state counselor".split()
)
# Words that frame a question about what someone said ("what did X say about Y").
FRAME_WORDS = frozenset(
    "say says said saying tell tells told talk talks talked speak speaks spoke mention mentions "
    "mentioned think thinks thought stress stressed".split()
)
# A name right after one of these is what the question asks about, not whose words it wants.
TOPIC_MARKERS = frozenset(
    "about on of regarding concerning toward towards against with to in for from by mention "
    "mentions mentioned support supports supported oppose opposes opposed help helps".split()
)
# "What did Macron say about ...": a capitalised subject of a speech verb is whose words the
# question wants, even when no document names that speaker (the UN corpus names none).
_SPEAKER_FRAME = re.compile(
    r"\b(?:did|does|do|has|have|had|will|would)\s+((?:[A-Z][\w'’.-]*\s+){1,3})"
    r"(?=(?:" + "|".join(sorted(FRAME_WORDS)) + r")\b)"
)
# A speaker's name is followed by one of these in a statement ("Zhang Jun said that ...").
SPEECH_VERBS = ("said", "stressed", "pointed out", "noted", "stated", "added", "emphasized")
# "Statement by H.E. Mr. Wang Yi, ...": a line naming who delivers the statement.
_BYLINE = re.compile(
    r"\b(?:[Ss]tatement|[Rr]emarks|[Aa]ddress|[Ss]peech)\s+(?:delivered\s+|made\s+)?by\s+"
    r"((?:[A-Z][\w'’.-]*\s*){1,6})"
)
# A statement's title and its first lines carry its byline, if any.
BYLINE_LINES = 3
# "Zhang Jun said that ...", "President Li Wei stressed ...": a report opening with its speaker.
_REPORTED = re.compile(
    r"((?:[A-Z][\w'’.-]+ ){1,4})(?:" + "|".join(SPEECH_VERBS) + r")\b", re.UNICODE
)
# Only a statement's opening is read for its speaker and country: the catalog of a large
# collection is built at the first question, and a statement names both early.
STATEMENT_HEAD_CHARS = 5_000
# A country the statement names this often, and more than any other, is the one it speaks for.
MIN_COUNTRY_MENTIONS = 3


@cache
def country_names() -> dict[str, tuple[str, ...]]:
    """iso3 -> the names, demonyms and capitals that refer to that country (lower case)."""
    names: dict[str, set[str]] = {}
    for country in pycountry.countries:
        found = names.setdefault(country.alpha_3, set())
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                found.add(value.lower())
    for info in CountryInfo.all().values():
        iso3 = (info.get("ISO") or {}).get("alpha3")
        if not iso3 or iso3 not in names:
            continue
        found = names[iso3]
        for value in (info.get("name"), info.get("demonym"), info.get("capital")):
            if value:
                found.add(str(value).lower())
                # "Washington D.C." is also just "Washington".
                found.add(re.sub(r"\s+(?:[a-z]\.)+$", "", str(value).lower()))
        for spelling in info.get("altSpellings") or ():
            # Two-letter codes ("US", "IN") read as words in lower case; longer ones are names.
            if len(spelling) > 3 and spelling.isascii():
                found.add(spelling.lower())
    names.setdefault("USA", set()).update({"us", "u.s.", "america", "the us"})
    names.setdefault("GBR", set()).add("uk")
    for found in names.values():
        # "PRC", "DPRK": the initials of an official name name the country too.
        found.update(filter(None, (initials(name) for name in list(found))))
    return {iso3: tuple(sorted(v)) for iso3, v in names.items()}


def initials(name: str) -> str | None:
    """The acronym of a name of three words or more ("people's republic of china": "prc")."""
    if "," in name or "(" in name:
        return None
    words = [w for w in re.findall(r"[^\W\d_][\w'’]*", name) if w not in _NAME_JOINERS]
    return "".join(w[0] for w in words) if len(words) >= 3 else None


@cache
def country_by_name() -> dict[str, str]:
    """Every name of country_names() (lower case), and the iso3 it names."""
    return {name: iso3 for iso3, names in country_names().items() for name in names}


def countries_in(text: str) -> list[tuple[str, str]]:
    """The country names of text as written, with their iso3, longest first, not overlapping."""
    words = list(_COUNTRY_WORD.finditer(text))
    by_name = country_by_name()
    taken: set[int] = set()
    found = []
    for size in range(_LONGEST_COUNTRY_WORDS, 0, -1):
        for first in range(len(words) - size + 1):
            span = range(first, first + size)
            if taken.intersection(span):
                continue
            start, end = words[first].start(), words[first + size - 1].end()
            surface = text[start:end].rstrip(".")
            iso3 = by_name.get(surface.lower().replace("’", "'"))
            if iso3 is None or (_case_sensitive(surface) and not surface.isupper()):
                continue
            taken.update(span)
            found.append((surface, iso3))
    return found


# Words of a country's name ("people's", "u.s."), and how many a name has at most ("united
# kingdom of great britain and northern ireland" is longer: its shorter names are enough).
_COUNTRY_WORD = re.compile(r"[^\W_][\w'’.]*")
_LONGEST_COUNTRY_WORDS = 5
_NAME_JOINERS = frozenset("of the and".split())


@cache
def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(name) + r"(?![\w])", re.IGNORECASE)


def _case_sensitive(name: str) -> bool:
    # "us" and "uk" are names only when written in capitals ("the US"), never "us".
    return len(name.replace(".", "")) <= 3


@dataclass(frozen=True)
class Mention:
    """Words of a question that name documents."""

    start: int
    end: int
    doc_ids: frozenset[str]
    topical: bool  # after "about", "on", ...: what is asked about, not whose words


@dataclass(frozen=True)
class Scope:
    """The documents a question names and the topic it asks about them."""

    question: str
    topic: str
    # None: every document; otherwise those the question names.
    doc_ids: frozenset[str] | None = None
    mentions: tuple[str, ...] = ()
    # The question refers to the speaker ("he", "the ambassador") without naming one.
    speaker_reference: bool = False
    # The question with the naming words replaced by "they", for the embedding model.
    neutral: str = ""

    @property
    def overview(self) -> bool:
        """A question naming documents but no topic ("What did Brazil say?")."""
        return (self.doc_ids is not None or self.speaker_reference) and not tokenize(self.topic)


@dataclass
class DocumentNames:
    """The names that refer to one document."""

    doc_id: str
    country: str | None = None
    phrases: set[str] = field(default_factory=set)
    speaker: str | None = None


def speaker_of(document: StoredDocument) -> str | None:
    """Who speaks: the title's "Name: ...", a "statement by" line, or a report's first name."""
    head, colon, _ = document.title.partition(":")
    words = head.split()
    if colon and 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words):
        return head.strip()
    lines = [document.title, *document.text.lstrip().splitlines()[:BYLINE_LINES]]
    for line in lines:
        match = _BYLINE.search(line)
        if match and (name := _person(match.group(1))):
            return name
    # A report of a statement opens with its speaker ("Zhang Jun said that ..."); a person a
    # speech names later ("President Xi Jinping stressed") is quoted, not speaking.
    body = document.text.lstrip()
    if document.title and body.startswith(document.title):
        body = body[len(document.title) :].lstrip()
    opening = _REPORTED.match(body)
    if opening is None:
        return None
    return _person(opening.group(1))


def _person(phrase: str) -> str | None:
    """The name in phrase without the titles before it ("H.E. Mr. Wang Yi" -> "Wang Yi")."""
    words = []
    for word in phrase.split():
        if not word[:1].isupper():
            break
        words.append(word.rstrip(","))
    while words and words[0].lower().strip(".") in TITLE_WORDS | {"h.e"}:
        words.pop(0)
    return " ".join(words) if 2 <= len(words) <= 4 else None


def country_spoken_for(text: str) -> str | None:
    """The country a statement names most often, when it does so clearly."""
    counts: Counter[str] = Counter()
    head = text[:STATEMENT_HEAD_CHARS]
    lowered = head.lower()
    for iso3, names in country_names().items():
        for name in names:
            if len(name) > 3 and name in lowered:
                counts[iso3] += len(_name_pattern(name).findall(head))
    if not counts:
        return None
    (iso3, count), *rest = counts.most_common(2)
    if count >= MIN_COUNTRY_MENTIONS and (not rest or count >= 2 * rest[0][1]):
        return iso3
    return None


class DocumentCatalog:
    """Every document's names, for recognising them in questions; one per published version."""

    def __init__(self, documents: Mapping[str, StoredDocument]) -> None:
        self.names: dict[str, DocumentNames] = {}
        # Name (lower case) -> the documents it refers to.
        self.by_name: dict[str, set[str]] = {}
        for doc_id, document in documents.items():
            entry = self._names(document)
            self.names[doc_id] = entry
            for phrase in entry.phrases:
                self.by_name.setdefault(phrase, set()).add(doc_id)
        # Longest first, so "Zhang Jun" wins over "Zhang".
        ordered = sorted(self.by_name, key=len, reverse=True)
        self._rank = {name: i for i, name in enumerate(ordered)}
        # A name is found only where the question has its first word: the question's words
        # pick the few names to test among a large collection's thousands.
        self._by_first_word: dict[str, list[str]] = {}
        self._unworded: list[str] = []
        for name in ordered:
            first = _RUN.match(name)
            if first is None:
                self._unworded.append(name)
            else:
                self._by_first_word.setdefault(first.group(0), []).append(name)
        self.with_speakers = frozenset(d for d, n in self.names.items() if n.speaker)

    @staticmethod
    def _names(document: StoredDocument) -> DocumentNames:
        entry = DocumentNames(document.doc_id)
        iso3 = str(document.metadata.get("iso3") or "").upper() or None
        speaker = speaker_of(document)
        if iso3 is None and speaker is not None:
            iso3 = country_spoken_for(document.text)
        if iso3 is not None:
            entry.country = iso3
            entry.phrases.update(country_names().get(iso3, ()))
            entry.phrases.add(iso3.lower())
        if speaker is not None:
            entry.speaker = speaker
            entry.phrases.add(speaker.lower())
            # "Zhang stressed": a statement names its speaker by the family name too.
            entry.phrases.update(w.lower() for w in speaker.split() if len(w) >= 3)
        title = document.title.strip()
        if len(title.split()) >= 2:
            entry.phrases.add(title.lower())
        return entry

    def mentions(self, question: str) -> list[Mention]:
        """The spans of question that name documents, longest names first, not overlapping."""
        taken: list[tuple[int, int]] = []
        found: list[Mention] = []
        lowered = question.lower()
        candidates = {*self._unworded}
        for word in set(_RUN.findall(lowered)):
            candidates.update(self._by_first_word.get(word, ()))
        for name in sorted(candidates, key=self._rank.__getitem__):
            if name not in lowered:
                continue
            flags = 0 if _case_sensitive(name) else re.IGNORECASE
            # A short name is a name only in capitals: "US", "PRC", never "us".
            written = name.upper() if flags == 0 else name
            pattern = re.compile(r"(?<![\w.])" + re.escape(written) + r"(?![\w])", flags)
            for match in pattern.finditer(question):
                surface = match.group(0)
                if flags == 0 and not surface.isupper():
                    continue
                start, end = match.span()
                if any(start < e and s < end for s, e in taken):
                    continue
                taken.append((start, end))
                topical = _topical(question, start) or _inside_name(question, start, end)
                found.append(Mention(start, end, frozenset(self.by_name[name]), topical))
        return sorted(found, key=lambda m: m.start)

    def scope(self, question: str) -> Scope:
        """The documents question names (by speaker, country or title) and its topic."""
        mentions = self.mentions(question)
        naming = [m for m in mentions if not m.topical]
        words = [w.lower() for w in _WORD.findall(question)]
        speaker_reference = any(w in SPEAKER_WORDS for w in words)
        spans = [(m.start, m.end) for m in naming]
        frame = _SPEAKER_FRAME.search(question)
        named_by_frame = False
        if frame and not any(s < frame.end(1) and frame.start(1) < e for s, e in spans):
            spans.append(frame.span(1))
            speaker_reference = named_by_frame = True
        if not naming and not speaker_reference:
            return Scope(question, question)
        doc_ids: frozenset[str] | None = None
        if naming:
            doc_ids = frozenset().union(*(m.doc_ids for m in naming))
        elif not named_by_frame and (
            any(w in ROLE_WORDS for w in words) or any(w in FRAME_WORDS for w in words)
        ):
            # "What did he say ...?", "the ambassador": whoever the collection knows as a
            # speaker (a statement's), when it knows any.
            doc_ids = self.with_speakers or None
        topic = _topic(question, spans)
        return Scope(
            question,
            topic,
            doc_ids,
            tuple(question[m.start : m.end] for m in naming),
            speaker_reference,
            neutral_question(question, spans),
        )


def neutral_question(question: str, spans: Iterable[tuple[int, int]]) -> str:
    """The question asked of "they": names of documents and speakers replaced."""
    text = question
    for start, end in sorted(spans, reverse=True):
        rest = re.sub(r"^['’]s\b", "", text[end:])
        text = text[:start].rstrip() + " they " + rest.lstrip()
    return re.sub(r"\b(?:the|a|an) they\b", "they", text, flags=re.IGNORECASE).strip()


def _topical(question: str, start: int) -> bool:
    before = [w.lower() for w in _WORD.findall(question[:start])]
    while before and before[-1] in {"the", "a", "an"}:
        before.pop()
    return bool(before) and before[-1] in TOPIC_MARKERS


def _inside_name(question: str, start: int, end: int) -> bool:
    """Whether the span sits inside a longer capitalised name, between two of its words ("the
    South China Sea"): that name is a topic, not a document's speaker or country."""
    before = _WORD.findall(question[:start])
    after = _WORD.match(question[end:].lstrip(" "))
    # The question's first word is capitalised whatever it is; a title before a name is not
    # part of it ("President Xi Jinping").
    capitalised_before = (
        len(before) >= 2 and before[-1][:1].isupper() and before[-1].lower() not in TITLE_WORDS
    )
    return capitalised_before and after is not None and after.group(0)[:1].isupper()


def _topic(question: str, spans: Iterable[tuple[int, int]]) -> str:
    """The question without the words that name documents, the speaker or the framing."""
    text = question
    for start, end in sorted(spans, reverse=True):
        rest = re.sub(r"^['’]s\b", "", text[end:])
        text = text[:start] + " " + rest
    # "What did X say about Y": the topic is what follows the frame.
    frame = re.search(
        r"\b(?:" + "|".join(sorted(FRAME_WORDS)) + r")\b\s*(?:about|on|regarding|concerning|of)?",
        text,
        re.IGNORECASE,
    )
    if frame and _WORD.search(text[frame.end() :]):
        text = text[frame.end() :]
    elif frame:
        text = text[: frame.start()] + " " + text[frame.end() :]
    kept = [
        w
        for w in re.split(r"(\s+)", text)
        if re.sub(r"['’]s$", "", w.strip().strip("?.,!").lower()) not in SPEAKER_WORDS
    ]
    return re.sub(r"\s+", " ", "".join(kept)).strip(" ?.,!")
