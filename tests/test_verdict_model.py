"""The verdict model: arrays in an .npz (no pickle), softmax probabilities, the packaged file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.verdict_model import (
    CLASSES,
    LEXICAL,
    LOOSE,
    LOOSE_MODEL_PATH,
    MODEL_PATH,
    VerdictModel,
    pair_features,
)


def test_pair_features_are_lexical_then_u_v_absdiff_product() -> None:
    u = np.array([1.0, 0.0], np.float32)
    v = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    lexical = np.zeros((2, 3), np.float32)
    rows = pair_features(lexical, u, v)
    assert rows.shape == (2, 3 + 4 * 2)
    assert rows[0].tolist() == [0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0]


def test_saved_and_loaded_model_gives_the_same_probabilities(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    d = len(LEXICAL) + 8
    model = VerdictModel(
        rng.normal(size=d), rng.uniform(1, 2, size=d), rng.normal(size=(d, 3)), rng.normal(size=3)
    )
    model.save(tmp_path / "m.npz")
    loaded = VerdictModel.load(tmp_path / "m.npz")
    x = rng.normal(size=(4, d))
    p = loaded.probabilities(x)
    assert np.allclose(p, model.probabilities(x), atol=1e-5)
    assert np.allclose(p.sum(axis=1), 1.0)


def test_the_packaged_model_matches_the_features() -> None:
    model = VerdictModel.load(MODEL_PATH)
    assert model.weights.shape == (len(LEXICAL) + 4 * 384, len(CLASSES))


def test_the_packaged_loose_model_reads_the_lexical_signals_only() -> None:
    model = VerdictModel.load(LOOSE_MODEL_PATH, LOOSE)
    assert model.weights.shape == (len(LOOSE), len(CLASSES))
    # A file of other features is refused, not misread.
    with pytest.raises(ValueError, match="other classes or features"):
        VerdictModel.load(LOOSE_MODEL_PATH)
