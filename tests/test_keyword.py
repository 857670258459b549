"""BM25 keyword search and the tokenizer behind it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from index.chunking import chunk_text
from index.keyword import KeywordIndex
from index.text import _mixed_tokens, _word_tokens, content_terms, passage_terms, tokenize


def test_tokenize_stems_drops_function_words_and_splits_cjk_into_bigrams() -> None:
    assert tokenize("What agencies does China support?") == ["agenc", "china", "support"]
    assert tokenize("中国反对双重标准") == ["中国", "国反", "反对", "对双", "双重", "重标", "标准"]
    assert tokenize("The", drop_stopwords=False) == ["the"]


def test_letters_and_digits_next_to_cjk_are_words_of_their_own() -> None:
    # Once "wta赛事" and "2009年2月" were single tokens, which no question's matched.
    assert tokenize("获得WTA赛事冠军") == ["获得", "wta", "赛事", "事冠", "冠军"]
    assert tokenize("2009年2月1日") == ["2009", "年", "2", "月", "1", "日"]


@given(
    st.text(st.sampled_from("ab éZ_1'’-.\n") | st.characters(max_codepoint=0x2FFF)),
    st.booleans(),
)
def test_text_without_cjk_tokenises_as_the_general_path_does(text: str, drop: bool) -> None:
    lowered = text.lower()
    assert _word_tokens(lowered, drop) == _mixed_tokens(lowered, drop)


@given(st.text(alphabet=st.sampled_from("ab Zé中文.,!?'’-\n0"), max_size=600))
def test_a_chunk_s_terms_are_those_of_its_sentences(text: str) -> None:
    for chunk in chunk_text(text, chunk_size=120, overlap=30):
        sentences = (text[start:end] for start, end in chunk.sentences)
        assert passage_terms(sentences) == content_terms(text[chunk.start : chunk.end])


def test_bm25_ranks_rows_with_rarer_matching_terms_first() -> None:
    index = KeywordIndex(
        [tokenize("apples and pears"), tokenize("apples"), tokenize("pears pears"), []]
    )
    rows, scores = index.search(tokenize("pears"), k=10)
    assert rows.tolist() == [2, 0]
    assert scores[0] > scores[1] > 0
    assert index.search(tokenize("bananas"), k=10)[0].tolist() == []
    assert index.idf("pear") < index.idf("unknown")


def test_chinese_text_is_searchable() -> None:
    index = KeywordIndex([tokenize("我们必须反对双重标准和政治化。"), tokenize("中国支持联合国。")])
    rows, _ = index.search(tokenize("中国反对什么？"), k=2)
    # Each matches one bigram of the question (中国, 反对); BM25 ranks the shorter row first.
    assert rows.tolist() == [1, 0]
    assert index.search(tokenize("双重标准"), k=1)[0].tolist() == [0]


def test_an_empty_index_finds_nothing() -> None:
    index = KeywordIndex([])
    assert index.search(["x"], k=3)[0].tolist() == []
    assert index.scores(["x"]).tolist() == []


def test_chunks_without_any_token_make_a_valid_index() -> None:
    index = KeywordIndex([[], []])
    assert index.size == 2
    assert index.scores(["x"]).tolist() == [0.0, 0.0]
    assert index.search(["x"], k=3)[0].tolist() == []
    assert index.idf("x") > 0
