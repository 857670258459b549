"""The service's caches: answers per index version, and sentence vectors by content.

Both are cachetools LRU maps behind a lock (cachetools' maps are not thread-safe), with the
slow computation (answering, the model) run outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
from cachetools import LRUCache

from index.embedding import Embedder

V = TypeVar("V")


class VersionedLRU(Generic[V]):
    """A bounded least-recently-used map, emptied whenever the index version changes.

    Keys carry the version too, so a value computed from an old version can never be returned
    for a new one, even if it is stored after the change.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._version: Hashable = None
        self._items: LRUCache[tuple[Hashable, Hashable], V] = LRUCache(maxsize=max(capacity, 1))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_or_compute(self, version: Hashable, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value for (version, key), else compute() stored under it."""
        if self.capacity <= 0:
            return compute()
        full_key = (version, key)
        with self._lock:
            if version != self._version:
                self._items.clear()
                self._version = version
            if full_key in self._items:
                self.hits += 1
                return self._items[full_key]  # reading it makes it the most recent
            self.misses += 1
        value = compute()
        with self._lock:
            if version == self._version:
                self._items[full_key] = value
        return value


class SentenceEmbeddingCache:
    """Sentence vectors by (content hash, start, end), least recently used dropped first.

    Safe to share between threads; the model runs outside the lock.
    """

    def __init__(self, embedder: Embedder, capacity: int = 50_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: LRUCache[tuple[str, int, int], np.ndarray] = LRUCache(
            maxsize=max(capacity, 1)
        )
        self._lock = threading.Lock()

    def embed(self, keys: list[tuple[str, int, int]], texts: list[str]) -> np.ndarray:
        """Vectors for the sentences, embedding only those not seen before."""
        with self._lock:
            found = {key: self._vectors[key] for key in keys if key in self._vectors}
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            vectors = self.embedder.embed_batch([texts[i] for i in missing])
            found.update((keys[i], vector) for i, vector in zip(missing, vectors, strict=True))
        if self.capacity > 0:
            with self._lock:
                for key in keys:
                    self._vectors[key] = found[key]
        return np.vstack([found[key] for key in keys])
