"""Give freed heap memory back to the operating system between embedding batches."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    """glibc, or None where there is no malloc_trim (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return free heap pages to the OS (glibc's malloc_trim); False where unsupported.

    torch allocates and frees tensors of a different shape for every batch of texts; glibc keeps
    the freed pages, so without this a long `qa index` run's resident memory creeps upwards.
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
