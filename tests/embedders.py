"""Test wrappers around the real model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.embedding import Embedder


class CountingEmbedder(Embedder):
    """The real model, recording the texts it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dimensions = inner.name, inner.dimensions
        self.texts: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed_batch(texts)
