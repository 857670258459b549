"""Sentence splitting and sentence-aligned chunks, all as character offsets into the text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Span = tuple[int, int]

# A sentence ends at terminal punctuation (with closing quotes or brackets) before white space,
# at CJK terminal punctuation, or at a blank line.
_BOUNDARY = re.compile(
    r"""(?:[.!?…]+["'”’)\]]*)(?=\s)       # Latin terminal punctuation
      | [。！？；]+[”’」』）]*              # CJK terminal punctuation
      | \n[ \t]*\n\s*                       # paragraph break
      | \n(?=[ \t]*(?:[#>*+-]|\d+[.)])\s)   # a line that starts a heading or list item
      | ^[ \t]*\#{1,6}[ \t][^\n]*\n         # a Markdown heading line
    """,
    re.VERBOSE | re.MULTILINE,
)
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt no nos vs etc e.g i.e cf fig figs al approx dept est inc ltd co "
    "corp gen gov sen rep rev hon jan feb mar apr jun jul aug sep sept oct nov dec art para vol pp "
    "u.s u.k u.n".split()
)
_WORD_BEFORE = re.compile(r"([\w.]+)\.*$")
_SOFT_BREAK = re.compile(r"[;:,]\s|\s")


@dataclass(frozen=True)
class ChunkSpan:
    """A run of whole sentences: text[start:end] is the chunk."""

    start: int
    end: int
    sentences: tuple[Span, ...]


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at `end` closes an abbreviation or an initial, not a sentence."""
    if text[end - 1] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, end - 12), end)
    if not match:
        return False
    word = match.group(1).rstrip(".").lower()
    if word in _ABBREVIATIONS:
        return True
    following = text[end:].lstrip()[:1]
    # "J. Smith", "p. 5" and a lower-case continuation are not sentence ends.
    return (len(word) == 1 and word.isalpha()) or (following.islower() and following.isalpha())


def _trim(text: str, start: int, end: int) -> Span | None:
    """The span without surrounding white space, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[Span]:
    """Cut an over-long sentence into pieces of at most max_chars, at clause or word breaks."""
    pieces: list[Span] = []
    while end - start > max_chars:
        limit = start + max_chars
        cut = None
        for match in _SOFT_BREAK.finditer(text, start + max_chars // 2, limit):
            cut = match.end()
        cut = cut if cut is not None and cut > start else limit
        span = _trim(text, start, cut)
        if span:
            pieces.append(span)
        start = cut
    span = _trim(text, start, end)
    if span:
        pieces.append(span)
    return pieces


def split_sentences(text: str, max_chars: int = 1000) -> list[Span]:
    """Sentence spans of text, none longer than max_chars, trimmed of white space."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group(0)[:1] in ".!?…" and _is_abbreviation(text, match.end()):
            continue
        spans.extend(_split_long(text, start, end, max_chars))
        start = end
    spans.extend(_split_long(text, start, len(text), max_chars))
    return spans


def chunk_sentences(sentences: Sequence[Span], chunk_size: int, overlap: int) -> list[ChunkSpan]:
    """Group consecutive sentences into chunks of at most chunk_size characters.

    Each chunk after the first repeats the trailing sentences of the previous one that fit in
    `overlap` characters, so that an answer spanning a boundary is whole in some chunk.
    """
    if chunk_size < 1 or overlap < 0:
        raise ValueError("chunk_size must be positive and overlap non-negative")
    chunks: list[ChunkSpan] = []
    first = 0
    while first < len(sentences):
        last = first
        while (
            last + 1 < len(sentences) and sentences[last + 1][1] - sentences[first][0] <= chunk_size
        ):
            last += 1
        chunks.append(
            ChunkSpan(sentences[first][0], sentences[last][1], tuple(sentences[first : last + 1]))
        )
        if last + 1 >= len(sentences):
            break
        following = last + 1
        while following - 1 > first and sentences[last][1] - sentences[following - 1][0] <= overlap:
            following -= 1
        first = following
    return chunks


def chunk_text(text: str, chunk_size: int, overlap: int) -> list[ChunkSpan]:
    """Sentence-aligned chunks of text."""
    return chunk_sentences(split_sentences(text, max_chars=chunk_size), chunk_size, overlap)
