"""The packaged model: unit vectors, and torch threads chosen per call when serving."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from api.settings import Settings
from api.wiring import load_embedder
from index.embedding import Embedder, SentenceTransformerEmbedder


@pytest.fixture
def restore_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_vectors_are_unit_length(embedder: Embedder) -> None:
    vectors = embedder.embed_batch(["China supports the UN.", "Rivers flow."])
    assert vectors.shape == (2, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.usefixtures("restore_torch_threads")
def test_one_text_runs_on_one_thread_and_several_on_the_batch_threads() -> None:
    model = SentenceTransformerEmbedder(torch_threads=1, batch_torch_threads=2)
    model.embed_batch(["first question", "second question"])
    assert torch.get_num_threads() == 2
    model.embed_batch(["a lone question"])
    assert torch.get_num_threads() == 1


@pytest.mark.usefixtures("restore_torch_threads")
def test_serving_batches_use_all_cores_unless_told_otherwise() -> None:
    serving = load_embedder(Settings(embed_runtime="torch"), serving=True)
    assert isinstance(serving, SentenceTransformerEmbedder)
    assert (serving.single_threads, serving.batch_threads) == (1, os.cpu_count())
    pinned = load_embedder(Settings(embed_runtime="torch", torch_threads=1), serving=True)
    assert isinstance(pinned, SentenceTransformerEmbedder)
    assert (pinned.single_threads, pinned.batch_threads) == (1, 1)
