"""`qa index`'s bars: totals known ahead, and an index.build.IndexProgress."""

from __future__ import annotations

from api.progress import IndexingBars
from index.build import IndexProgress


def test_bars_have_totals_and_end_at_what_was_embedded() -> None:
    with IndexingBars(files=2) as bars:
        assert isinstance(bars, IndexProgress)
        bars.planned(10)
        bars.planned(5)
        bars.update(12)
        bars.file_done()
        bars.file_done()
        assert (bars.files.n, bars.files.total) == (2, 2)
        assert (bars.texts.n, bars.texts.total) == (12, 15)
    # Planned sentences shared by overlapping chunks are embedded once: the bar ends full.
    assert bars.texts.total == 12
