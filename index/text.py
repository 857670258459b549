"""Word-level tokens shared by keyword search and answer scoring.

Latin-script words are lower-cased and stemmed (Snowball English); runs of CJK characters,
which have no spaces between words, become overlapping character bigrams (and the single
character when the run is one long), so Chinese and Japanese text is searchable too. Letters
and digits next to CJK characters are a word of their own ("2009年2月": 2009, 年, 2, 月).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

# The one definition of a word (letters and digits, with inner apostrophes: "don't", "China’s")
# and of CJK script; every tokenizer of the service is built from these.
_WORD_PATTERN = r"[^\W_]+(?:['’][^\W_]+)*"
_CJK_PATTERN = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
# Surface words, unstemmed (follow-up cues read them as written).
WORD = re.compile(_WORD_PATTERN)
# Surface words that keep inner hyphens too ("non-binding"), as the fact-check cues read them.
HYPHENATED_WORD = re.compile(_WORD_PATTERN.replace("['’]", "[-'’]"))
_CJK = re.compile(_CJK_PATTERN)
# A word of a search token stops at a CJK character: otherwise "WTA赛事女子单打冠军" or
# "2009年2月1日" was one token, found only as a whole (CMRC 2018 top-1 0.550 -> docs/quality.md).
_NOT_CJK = _CJK_PATTERN[1:-1]
_TOKEN_WORD = _WORD_PATTERN.replace(r"[^\W_]", rf"[^\W_{_NOT_CJK}]")
_TOKEN = re.compile(f"{_CJK_PATTERN}+|{_TOKEN_WORD}")
# Bumped whenever tokenize() gives other tokens for some text: the index stores its chunks'
# tokens, and one made by another version is refused where they would differ (index.manifest).
KEYWORD_TOKENIZER = 2

# Function words and question words: they say how a question is asked, not what about.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just let me more most my myself no nor not of off on once only or other ought our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don shall may might must say says said tell give name please according kind sort one two
    many much way ways there's what's who's""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _cjk_grams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Search tokens of text, in order: stemmed words and CJK bigrams."""
    lowered = text.lower()
    if _CJK.search(lowered) is None:
        return _word_tokens(lowered, drop_stopwords)
    return _mixed_tokens(lowered, drop_stopwords)


def _word_tokens(lowered: str, drop_stopwords: bool) -> list[str]:
    # Text without CJK (most text) in C-level calls: the same tokens twice as fast, and
    # answering tokenises the ~60 sentences and passages of every question.
    words = [
        word.replace("’", "'")
        for word in _TOKEN.findall(lowered)
        if not drop_stopwords or word not in STOPWORDS
    ]
    return list(_stemmer().stemWords(words))


def _mixed_tokens(lowered: str, drop_stopwords: bool) -> list[str]:
    words: list[str] = []
    tokens: list[str] = []
    for match in _TOKEN.finditer(lowered):
        token = match.group(0)
        if _CJK.match(token):
            tokens.extend(_cjk_grams(token))
        elif not drop_stopwords or token not in STOPWORDS:
            words.append(token.replace("’", "'"))
            tokens.append("")
    stems = iter(_stemmer().stemWords(words))
    return [token or next(stems) for token in tokens]


def content_terms(text: str) -> set[str]:
    """The distinct search tokens of text, without function words."""
    return set(tokenize(text))


@lru_cache(maxsize=16384)
def sentence_terms(text: str) -> frozenset[str]:
    """content_terms of a sentence, remembered: answering tokenises every sentence of the
    chunks it retrieves, and questions about one subject retrieve the same ones."""
    return frozenset(tokenize(text))


def passage_terms(sentences: Iterable[str]) -> frozenset[str]:
    """The distinct search tokens of a passage made of these whole sentences: theirs, as
    remembered (the same as the passage's, but for a word too long for a sentence piece)."""
    return frozenset().union(*map(sentence_terms, sentences))
