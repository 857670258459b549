"""Micro-batching: texts that several threads want embedded at once go through one model call."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.embedding import Embedder


@dataclass
class _Request:
    texts: Sequence[str]
    passages: bool  # texts an index stores (Embedder.embed_passages), not a question's
    result: Future[np.ndarray] = field(default_factory=Future)


class BatchingEmbedder(Embedder):
    """Runs the model on one dedicated thread; requests waiting together are embedded together.

    No request waits for others to arrive: while the model works on one batch, the requests
    that come in queue up and form the next one (bench/threads.py measured the gain). Long
    requests, such as a writer's chunks, go in pieces of `max_batch` texts, so questions that
    arrive meanwhile are answered between pieces rather than after the whole document.
    """

    def __init__(
        self,
        inner: Embedder | Callable[[], Embedder],
        max_batch: int = 32,
        name: str = "model",
        on_batch: Callable[[int], object] | None = None,
    ) -> None:
        """Wrap an embedder, or build one on the model thread from a factory (better for torch).

        Torch's OpenMP threads spin after each call; once a second thread has run torch work,
        both pay for it (bench/threads.py: a question took 8.7 ms instead of 6.4), so the model
        is best loaded, as well as run, on its one thread.
        """
        self.max_batch = max(1, max_batch)
        self.batches = 0  # model calls made, for tests and benchmarks
        self.on_batch = on_batch  # told the number of texts of each model call (metrics)
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._closed = False
        loaded: Future[Embedder] = Future()
        factory = None
        if isinstance(inner, Embedder):
            loaded.set_result(inner)
        else:
            factory = inner
        self._thread = threading.Thread(
            target=self._serve, args=(factory, loaded), name=name, daemon=True
        )
        self._thread.start()
        self.inner = loaded.result()  # the factory's error, if it failed
        self.name = self.inner.name
        self.dimensions = self.inner.dimensions

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, passages=False)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, passages=True)

    def _embed(self, texts: Sequence[str], passages: bool) -> np.ndarray:
        if threading.current_thread() is self._thread:
            return self._inner_embed(texts, passages)
        parts = [
            self._submit(texts[i : i + self.max_batch], passages)
            for i in range(0, len(texts), self.max_batch)
        ]
        return np.vstack(parts) if parts else np.zeros((0, self.dimensions), np.float32)

    def _inner_embed(self, texts: Sequence[str], passages: bool) -> np.ndarray:
        return self.inner.embed_passages(texts) if passages else self.inner.embed_batch(texts)

    def _submit(self, texts: Sequence[str], passages: bool) -> np.ndarray:
        if self._closed:
            raise RuntimeError("the embedder is closed")
        request = _Request(texts, passages)
        self._queue.put(request)
        return request.result.result()

    def _serve(self, factory: Callable[[], Embedder] | None, loaded: Future[Embedder]) -> None:
        if factory is not None:
            try:
                loaded.set_result(factory())
            except BaseException as exc:
                loaded.set_exception(exc)
                return
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, size, stop = [first], len(first.texts), False
            while size < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.texts)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[_Request]) -> None:
        # Stored texts and questions may take different graphs (index.onnx_embedding, int8):
        # one model call for each kind waiting.
        groups = [[r for r in batch if r.passages is passages] for passages in (False, True)]
        for number, group in enumerate(groups):
            if not group:
                continue
            try:
                self._run_group(group, group[0].passages)
            except BaseException as exc:
                for request in (r for later in groups[number + 1 :] for r in later):
                    request.result.set_exception(exc)
                raise

    def _run_group(self, batch: list[_Request], passages: bool) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            vectors = self._inner_embed(texts, passages)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].result.set_exception(exc)
                return
            # One request's text (say, a lone surrogate the tokenizer refuses) must not fail
            # the others it was batched with: each is tried again on its own.
            for request in batch:
                self._run_group([request], passages)
            return
        except BaseException as exc:
            for request in batch:
                request.result.set_exception(exc)
            raise
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(len(texts))
        start = 0
        for request in batch:
            end = start + len(request.texts)
            request.result.set_result(vectors[start:end])
            start = end

    def close(self) -> None:
        """Finish the queued requests, then stop the model thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
