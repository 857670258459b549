"""Test embedders: a wrapper that counts what the real model embeds, and a small fake model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from index.embedding import Embedder
from index.text import tokenize


class CountingEmbedder(Embedder):
    """Another embedder (the real model, usually), recording the texts it embeds."""

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dimensions = inner.dimensions
        self.texts: list[str] = []

    @property
    def embedded(self) -> int:
        """How many texts it has embedded."""
        return len(self.texts)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed_batch(texts)


class WordHashEmbedder(Embedder):
    """A deterministic bag of words: each search token adds one to a dimension set by its hash.

    Texts with the same tokens get the same vector and texts sharing none are orthogonal
    (barring collisions), so unit tests of indexing and search can state exact outcomes, in
    microseconds, without the model.
    """

    name = "word-hash"

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text, drop_stopwords=False):
                digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "big") % self.dimensions] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
