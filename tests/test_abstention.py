"""The abstention model's arithmetic and signals."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from qa.abstention import AbstentionModel


def test_probability_is_the_logistic_of_the_weighted_sum() -> None:
    model = AbstentionModel(weights=(1.0, -2.0), bias=0.5, threshold=0.5)
    assert model.probability((1.0, 0.25)) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert model.probability((1e9, 0.0)) == pytest.approx(1.0)


def test_more_similarity_never_lowers_the_probability() -> None:
    model = AbstentionModel()
    low = model.probability((0.3, 0.5, 0.5, 0.5, 0.0, 0.5))
    high = model.probability((0.8, 0.5, 0.5, 0.5, 0.0, 0.5))
    assert high > low


def test_words_the_collection_never_uses_push_towards_abstaining(seed_client: TestClient) -> None:
    body = seed_client.post(
        "/v1/ask", json={"question": "Which vaccines did China donate in 2021?"}
    ).json()
    assert (body["answered"], body["citations"]) == (False, [])
