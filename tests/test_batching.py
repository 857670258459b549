"""BatchingEmbedder: concurrent requests share model calls and each gets its own vectors back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.batching import BatchingEmbedder
from index.embedding import Embedder


class RecordingEmbedder(Embedder):
    """Vectors that encode each text's length; records every call; the first can be held."""

    name = "recording"
    dimensions = 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.built_on = threading.current_thread().name

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.entered.set()
        self.hold.wait(5)
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


class TwoGraphEmbedder(RecordingEmbedder):
    """Stored texts' vectors (embed_passages) are the questions' negated, as another graph's."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.kinds.append("question")
        return super().embed_batch(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.kinds.append("passage")
        return -super().embed_batch(texts)


def test_questions_and_stored_texts_waiting_together_each_take_their_own_call() -> None:
    inner = TwoGraphEmbedder()
    inner.hold.clear()
    embedder = BatchingEmbedder(inner, max_batch=32)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(embedder.embed_batch, ["a"])
            assert inner.entered.wait(5)
            stored = pool.submit(embedder.embed_passages, ["bb"])
            while embedder._queue.qsize() < 1:
                threading.Event().wait(0.001)
            asked = pool.submit(embedder.embed_batch, ["ccc"])
            while embedder._queue.qsize() < 2:
                threading.Event().wait(0.001)
            inner.hold.set()
            assert first.result()[:, 0].tolist() == [1.0]
            assert stored.result()[:, 0].tolist() == [-2.0]
            assert asked.result()[:, 0].tolist() == [3.0]
        assert inner.calls == [["a"], ["ccc"], ["bb"]]
        assert inner.kinds == ["question", "question", "passage"]
        assert embedder.batches == 3
    finally:
        embedder.close()


def test_requests_waiting_together_go_in_one_model_call() -> None:
    inner = RecordingEmbedder()
    inner.hold.clear()
    embedder = BatchingEmbedder(inner, max_batch=32)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(embedder.embed_batch, ["a"])
            assert inner.entered.wait(5)
            # While the model is busy with "a", three requests queue up.
            rest = [pool.submit(embedder.embed_batch, [t]) for t in ("bb", "ccc", "dddd")]
            while embedder._queue.qsize() < 3:
                threading.Event().wait(0.001)
            inner.hold.set()
            assert first.result()[:, 0].tolist() == [1.0]
            assert [f.result()[:, 0].tolist() for f in rest] == [[2.0], [3.0], [4.0]]
        assert inner.calls[0] == ["a"]
        assert sorted(inner.calls[1]) == ["bb", "ccc", "dddd"]
        assert embedder.batches == 2
        assert inner.threads == {"model"}
    finally:
        embedder.close()


def test_long_requests_go_in_pieces_of_max_batch() -> None:
    inner = RecordingEmbedder()
    embedder = BatchingEmbedder(inner, max_batch=2)
    try:
        vectors = embedder.embed_batch(["a", "bb", "ccc", "dddd", "eeeee"])
    finally:
        embedder.close()
    assert vectors[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert inner.calls == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]


def test_no_texts_no_model_call() -> None:
    inner = RecordingEmbedder()
    embedder = BatchingEmbedder(inner)
    try:
        assert embedder.embed_batch([]).shape == (0, 2)
    finally:
        embedder.close()
    assert inner.calls == []


class FailingEmbedder(RecordingEmbedder):
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        raise ValueError("model failed")


def test_a_model_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    embedder = BatchingEmbedder(FailingEmbedder())
    try:
        with pytest.raises(ValueError, match="model failed"):
            embedder.embed_batch(["a"])
        with pytest.raises(ValueError, match="model failed"):
            embedder.embed_batch(["b"])
    finally:
        embedder.close()


def test_closed_embedder_refuses_work() -> None:
    embedder = BatchingEmbedder(RecordingEmbedder())
    embedder.close()
    embedder.close()
    with pytest.raises(RuntimeError, match="closed"):
        embedder.embed_batch(["a"])


def test_describes_the_inner_model() -> None:
    embedder = BatchingEmbedder(RecordingEmbedder())
    try:
        assert embedder.describe() == {"name": "recording", "dimensions": 2}
    finally:
        embedder.close()


def test_a_factory_builds_the_model_on_the_model_thread() -> None:
    embedder = BatchingEmbedder(RecordingEmbedder, name="model")
    try:
        assert embedder.embed_batch(["abc"])[:, 0].tolist() == [3.0]
        assert isinstance(embedder.inner, RecordingEmbedder)
        assert embedder.inner.threads == {"model"}
        assert embedder.inner.built_on == "model"
    finally:
        embedder.close()


def test_a_failing_factory_fails_the_constructor() -> None:
    def broken() -> Embedder:
        raise OSError("no weights")

    with pytest.raises(OSError, match="no weights"):
        BatchingEmbedder(broken)


class PickyEmbedder(RecordingEmbedder):
    """Refuses any call that contains the text "bad", as a tokenizer refuses a lone surrogate."""

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if "bad" in texts:
            self.entered.set()
            self.hold.wait(5)
            raise TypeError("the tokenizer refused a text")
        return super().embed_batch(texts)


def test_a_request_the_model_refuses_fails_alone_not_its_batch() -> None:
    inner = PickyEmbedder()
    inner.hold.clear()
    embedder = BatchingEmbedder(inner, max_batch=32)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(embedder.embed_batch, ["a"])
            assert inner.entered.wait(5)
            rest = [pool.submit(embedder.embed_batch, [t]) for t in ("bb", "bad", "dddd")]
            while embedder._queue.qsize() < 3:
                threading.Event().wait(0.001)
            inner.hold.set()
            assert first.result()[:, 0].tolist() == [1.0]
            assert rest[0].result()[:, 0].tolist() == [2.0]
            with pytest.raises(TypeError):
                rest[1].result()
            assert rest[2].result()[:, 0].tolist() == [4.0]
    finally:
        embedder.close()
