"""The learned verdict of one claim against one evidence sentence: P(supported, contradicted,
not found) from the lexical signals and MiniLM pair features [u, v, |u-v|, u*v].

A multinomial logistic regression, applied here with numpy; its weights are a small `.npz`
(never a pickle) written by `bench/train_verdict_model.py`, which reproduces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("data") / "verdict_model.npz"
LOOSE_MODEL_PATH = Path(__file__).with_name("data") / "loose_model.npz"
CLASSES = ("supported", "contradicted", "not_found")
LEXICAL = (
    "similarity",
    "coverage",
    "unaccounted",
    "antonym",
    "form",
    "number",
    "name",
    "swap",
    "negation_mismatch",
    "opposite_polarity",
    "missing_numbers",
    "missing_names",
    "claim_terms",
)
# The loose-paraphrase model's features: lexical signals only, as shares of the claim, so that
# it does not learn the claims it is trained on (the pair features above identify a claim).
LOOSE = (
    "similarity",
    "coverage",
    "unaccounted_share",
    "off_document_share",
    "negation_aligned",
    "negation_mismatch",
    "aligned_contrast",
    "contrast",
    "swap",
    "missing_numbers",
    "opposite_polarity",
    "claim_terms",
    "similarity_x_coverage",
)


def pair_features(lexical: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rows of [lexical, u, v, |u-v|, u*v] for claim vectors u and sentence vectors v."""
    u = np.atleast_2d(u).astype(np.float32)
    v = np.atleast_2d(v).astype(np.float32)
    u = np.broadcast_to(u, v.shape)
    return np.hstack([np.atleast_2d(lexical).astype(np.float32), u, v, np.abs(u - v), u * v])


@dataclass(frozen=True)
class VerdictModel:
    """Standardised features times weights, softmax over CLASSES."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(class) for each row of features, columns in CLASSES order."""
        logits = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def save(self, path: Path, features: tuple[str, ...] = LEXICAL) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            classes=np.array(CLASSES),
            lexical=np.array(features),
        )

    @classmethod
    def load(cls, path: Path = MODEL_PATH, features: tuple[str, ...] = LEXICAL) -> VerdictModel:
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["classes"]) != CLASSES or tuple(data["lexical"]) != features:
                raise ValueError(f"{path} was trained for other classes or features")
            return cls(data["mean"], data["scale"], data["weights"], data["bias"])


@lru_cache(maxsize=1)
def packaged_model() -> VerdictModel | None:
    """The model shipped with the package, or None when it has not been trained."""
    return VerdictModel.load() if MODEL_PATH.is_file() else None


@lru_cache(maxsize=1)
def packaged_loose_model() -> VerdictModel | None:
    """The loose-paraphrase model shipped with the package (features LOOSE), or None."""
    return VerdictModel.load(LOOSE_MODEL_PATH, LOOSE) if LOOSE_MODEL_PATH.is_file() else None
