"""Progress bars for `qa index`: files read out of those found, texts embedded out of those
staged so far, each with tqdm's rate and ETA."""

from __future__ import annotations

from types import TracebackType

from tqdm import tqdm


class IndexingBars:
    """Two bars: files (total known before reading) and texts to embed (total grows as each
    document is chunked, so its ETA firms up as files are read). An index.build.IndexProgress."""

    def __init__(self, files: int) -> None:
        self.files = tqdm(total=files, unit="file", desc="files", position=0, delay=1.0)
        self.texts = tqdm(total=0, unit="text", desc="embedding", position=1, delay=1.0)

    def update(self, n: int = 1) -> None:
        self.texts.update(n)

    def planned(self, texts: int) -> None:
        self.texts.total = (self.texts.total or 0) + texts
        self.texts.refresh()

    def file_done(self) -> None:
        self.files.update(1)

    def close(self) -> None:
        # Texts planned but not embedded (sentences shared by overlapping chunks) end the bar.
        self.texts.total = self.texts.n
        self.texts.close()
        self.files.close()

    def __enter__(self) -> IndexingBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
