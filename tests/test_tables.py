"""Report figures: percentiles and Markdown tables."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.tables import markdown_table, percentile


def test_percentile_interpolates_linearly() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 75) == 3.25
    assert percentile([], 99) == 0.0


@settings(deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1), st.floats(0, 100))
def test_percentile_lies_between_the_extremes(values: list[float], q: float) -> None:
    assert min(values) <= percentile(values, q) <= max(values)
    assert percentile(values, q) == float(np.percentile(values, q))


def test_markdown_table() -> None:
    assert markdown_table(["a", "b"], [[1, "x"], ["0.500", ""]]) == (
        "| a | b |\n|---|---|\n| 1 | x |\n| 0.500 |  |"
    )
