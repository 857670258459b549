"""The abstention model's arithmetic and signals."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from qa.abstention import FEATURES, AbstentionModel, has_number, wants_date, wants_number


def test_probability_is_the_logistic_of_the_weighted_sum() -> None:
    model = AbstentionModel(weights=(1.0, -2.0), bias=0.5, threshold=0.5)
    assert model.probability((1.0, 0.25)) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert model.probability((1e9, 0.0)) == pytest.approx(1.0)


def features(similarity: float, unrelated: float = 0.1, **named: float) -> tuple[float, ...]:
    """A feature row: the best sentence's similarity, what unrelated text scores, the rest."""
    values = {"overlap": 0.5, "passage_overlap": 0.5, "known": 1.0} | named
    row = {"similarity": similarity, "margin": similarity - unrelated, **values}
    return tuple(row.get(name, 0.0) for name in FEATURES)


def test_a_more_similar_sentence_never_lowers_the_probability() -> None:
    model = AbstentionModel()
    assert model.probability(features(0.8)) > model.probability(features(0.3))
    # The same sentence counts for less when unrelated text scores as high for the question.
    assert model.probability(features(0.5, 0.1)) > model.probability(features(0.5, 0.4))


@pytest.mark.parametrize("signal", ["key_outside_passage", "number_missing"])
def test_a_missing_name_or_number_lowers_the_probability(signal: str) -> None:
    model = AbstentionModel()
    assert model.probability(features(0.6, **{signal: 1.0})) < model.probability(features(0.6))


def test_words_the_collection_never_uses_push_towards_abstaining(seed_client: TestClient) -> None:
    body = seed_client.post(
        "/v1/ask", json={"question": "Which vaccines did China donate in 2021?"}
    ).json()
    assert (body["answered"], body["citations"]) == (False, [])


@pytest.mark.parametrize(
    ("question", "count", "date"),
    [
        ("How many officers will Kenya send?", True, False),
        ("When did China ratify the convention?", True, True),
        ("What did he say about drugs?", False, False),
    ],
)
def test_questions_asking_for_a_count_or_a_date(question: str, count: bool, date: bool) -> None:
    assert wants_number(question) is count
    assert wants_date(question) is date


def test_a_date_in_words_counts_only_for_when_questions() -> None:
    text = "France has done much in recent years for Africa."
    assert not has_number(text)
    assert has_number(text, date=True)
