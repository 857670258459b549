"""Sentences and chunks are exact slices of the text, whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import chunk_sentences, chunk_text, split_sentences

WORDS = st.sampled_from(
    [
        "China",
        "supports",
        "the",
        "U.N.",
        "Mr.",
        "J.",
        "Smith",
        "中国",
        "反对",
        "什么",
        "naïve",
        "café",
        "😀",
        "e.g.",
        "3.14",
        "end.",
        "why?",
        "wow!",
        "“quoted.”",
        "(aside.)",
        "#",
        "-",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "  ", "\t", "。", "？ ", ". ", "! "])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), max_size=120).map(
    lambda pairs: "".join(w + s for w, s in pairs)
) | st.text(max_size=400)


def test_splits_the_seed_style_sentences() -> None:
    text = "Mr. Smith went to the U.S. Army. He said hi! 中国反对什么？我们很好。Dr. J. Doe left."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Mr. Smith went to the U.S. Army.",
        "He said hi!",
        "中国反对什么？",
        "我们很好。",
        "Dr. J. Doe left.",
    ]


def test_headings_and_list_items_are_their_own_sentences() -> None:
    text = "# Title\nFirst line\n- one\n- two\n\nNext paragraph."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "# Title",
        "First line",
        "- one",
        "- two",
        "Next paragraph.",
    ]


def test_long_sentences_are_cut_at_word_breaks() -> None:
    text = " ".join(["word"] * 100)
    spans = split_sentences(text, max_chars=50)
    assert all(e - s <= 50 for s, e in spans)
    assert " ".join(text[s:e] for s, e in spans) == text


def test_chunks_overlap_by_whole_sentences() -> None:
    sentences = [(0, 10), (11, 20), (21, 30), (31, 40)]
    chunks = chunk_sentences(sentences, chunk_size=20, overlap=9)
    assert [(c.start, c.end) for c in chunks] == [(0, 20), (11, 30), (21, 40)]


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, max_chars=st.integers(5, 300))
def test_sentences_are_trimmed_ordered_slices_within_the_limit(text: str, max_chars: int) -> None:
    spans = split_sentences(text, max_chars=max_chars)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert end - start <= max_chars
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    # No character other than white space is lost between sentences.
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, chunk_size=st.integers(20, 400), overlap=st.integers(0, 200))
def test_chunks_cover_every_sentence_as_exact_slices(
    text: str, chunk_size: int, overlap: int
) -> None:
    chunks = chunk_text(text, chunk_size, overlap)
    sentences = split_sentences(text, max_chars=chunk_size)
    seen = []
    for chunk in chunks:
        assert chunk.end - chunk.start <= chunk_size
        assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
        for sentence in chunk.sentences:
            if sentence not in seen:
                seen.append(sentence)
    assert seen == sentences
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
