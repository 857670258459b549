"""Dependencies the routes declare: the loaded service and the thread that runs the model."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, ParamSpec, TypeVar

import numpy as np
from fastapi import Depends, Request

from api.settings import Settings
from index.embedding import Embedder
from index.errors import IndexNotReady
from qa.conversation import AskFn, ConversationalQA
from qa.conversation_store import ConversationStore
from qa.service import QAService

P = ParamSpec("P")
T = TypeVar("T")


class ModelRunner:
    """Runs model work on one dedicated thread.

    Torch keeps its thread pool per calling thread; always calling from the same thread avoids
    paying for a new pool on each of the server's worker threads, and keeps the event loop free.
    """

    def __init__(self, name: str = "model") -> None:
        self.thread: threading.Thread | None = None
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._remember_thread
        )

    def _remember_thread(self) -> None:
        self.thread = threading.current_thread()

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run fn on this runner's thread from another thread, and wait for its result."""
        if threading.current_thread() is self.thread:
            return fn(*args, **kwargs)
        return self.executor.submit(fn, *args, **kwargs).result()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run fn(*args, **kwargs) on the model thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class RunnerEmbedder(Embedder):
    """An embedder whose model calls run on a runner's thread, in small batches.

    Writers embed through it from their own thread: the model is only ever called from one
    thread, and questions waiting for that thread get a turn between batches.
    """

    def __init__(self, inner: Embedder, runner: ModelRunner, batch_size: int = 32) -> None:
        self.inner = inner
        self.runner = runner
        self.batch_size = batch_size
        self.name = inner.name
        self.dimensions = inner.dimensions

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        parts = [
            self.runner.call(self.inner.embed_batch, texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.vstack(parts) if parts else np.zeros((0, self.dimensions), np.float32)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_service(request: Request) -> QAService:
    """The loaded service, or 503 while the model and index are still loading."""
    service: QAService | None = request.app.state.service
    if service is None:
        error = request.app.state.load_error
        raise IndexNotReady(error or "the model and index are still loading; retry shortly")
    return service


def get_runner(request: Request) -> ModelRunner:
    runner: ModelRunner = request.app.state.runner
    return runner


def get_conversations(request: Request) -> ConversationStore:
    """The conversation store, opened at start-up."""
    store: ConversationStore = request.app.state.conversations
    return store


def get_chat(
    request: Request,
    service: Annotated[QAService, Depends(get_service)],
    store: Annotated[ConversationStore, Depends(get_conversations)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> ConversationalQA:
    """Questions within conversations, over the loaded service."""
    return ConversationalQA(
        service, store, history_turns=settings.history_turns, ask=get_answer_fn(request)
    )


def get_answer_fn(request: Request) -> AskFn | None:
    """The generator's ask when a language model is configured, else None (extractive)."""
    generator = request.app.state.generator
    return generator.ask if generator is not None else None


def get_writer(request: Request) -> ModelRunner:
    writer: ModelRunner = request.app.state.writer
    return writer


SettingsDep = Annotated[Settings, Depends(get_settings)]
WriterDep = Annotated[ModelRunner, Depends(get_writer)]
ServiceDep = Annotated[QAService, Depends(get_service)]
RunnerDep = Annotated[ModelRunner, Depends(get_runner)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
ChatDep = Annotated[ConversationalQA, Depends(get_chat)]
