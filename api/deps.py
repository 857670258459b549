"""Dependencies the routes declare: the loaded service and the threads that do the work.

They are `async def` although none awaits: FastAPI runs a plain `def` dependency on a worker
thread, and those hops, several per request, held the event loop more than the answering did
at concurrency 32 (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request

from api.settings import Settings
from index.errors import IndexNotReady
from qa.conversation import AskFn, ConversationalQA
from qa.conversation_store import ConversationStore
from qa.service import QAService

P = ParamSpec("P")
T = TypeVar("T")


class Runner:
    """Threads that run blocking work (model calls, retrieval, storage) off the event loop."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        # Set at shutdown: long work that checks it (reading an upload) stops early.
        self.stopping = threading.Event()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run fn(*args, **kwargs) on one of the runner's threads and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Cancel queued work, tell running work to stop, and wait for it."""
        self.stopping.set()
        self.executor.shutdown(wait=True, cancel_futures=True)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_service(request: Request) -> QAService:
    """The loaded service, or 503 while the model and index are still loading."""
    service: QAService | None = request.app.state.service
    if service is None:
        error = request.app.state.load_error
        raise IndexNotReady(error or "the model and index are still loading; retry shortly")
    return service


async def get_runner(request: Request) -> Runner:
    """The threads that answer requests; their model calls meet in micro-batches."""
    runner: Runner = request.app.state.runner
    return runner


async def get_conversations(request: Request) -> ConversationStore:
    """The conversation store, opened at start-up."""
    store: ConversationStore = request.app.state.conversations
    return store


async def get_chat(
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


async def get_writer(request: Request) -> Runner:
    """The one thread that writes the index, so uploads publish one at a time."""
    writer: Runner = request.app.state.writer
    return writer


SettingsDep = Annotated[Settings, Depends(get_settings)]
WriterDep = Annotated[Runner, Depends(get_writer)]
ServiceDep = Annotated[QAService, Depends(get_service)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
ChatDep = Annotated[ConversationalQA, Depends(get_chat)]
