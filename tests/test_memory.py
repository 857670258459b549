"""Returning freed heap memory to the operating system during long indexing runs."""

from __future__ import annotations

import platform
import sys

from index.memory import release_free_memory


def test_release_free_memory_trims_on_glibc_and_is_a_no_op_elsewhere() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert release_free_memory() is glibc
