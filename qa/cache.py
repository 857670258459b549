"""Answers already given, reused while the index version they came from is still current."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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
        self._items: OrderedDict[tuple[Hashable, Hashable], V] = OrderedDict()
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
                self._items.move_to_end(full_key)
                self.hits += 1
                return self._items[full_key]
            self.misses += 1
        value = compute()
        with self._lock:
            if version == self._version:
                self._items[full_key] = value
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return value
