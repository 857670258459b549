"""The OpenAI-compatible chat API: /v1/chat/completions (streaming or not) and /v1/models."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from api.deps import RunnerDep, ServiceDep, SettingsDep, get_answer_fn
from api.errors import ERROR_RESPONSES
from api.openai_schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    Usage,
)
from api.schemas import CitationOut
from api.settings import Settings
from qa.answer import Answer
from qa.conversation import answer_in_context
from qa.generate import removed_sentences
from qa.service import QAService

router = APIRouter(tags=["chat"], responses=ERROR_RESPONSES)

# Words per streamed chunk: small enough to show progress, large enough not to flood.
WORDS_PER_CHUNK = 4
_PIECE = re.compile(r"\s*\S+")


def pieces(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """text cut into runs of a few words; joined again they give text exactly."""
    tokens = _PIECE.findall(text)
    runs = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    rest = text[len("".join(runs)) :]
    if rest:
        runs.append(rest)
    return runs


def _usage(service: QAService, prompt: str, completion: str) -> Usage:
    prompt_tokens, completion_tokens = (
        service.count_tokens(prompt),
        service.count_tokens(completion),
    )
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def footnotes(answer: Answer) -> str:
    """The citations as numbered lines, for clients that read only the message content.

    `[1] doc_id, characters start-end: "excerpt"` (with the page after doc_id when known); empty
    when nothing is cited. Preceded by a blank line, so it can be appended to the answer.
    """
    lines = []
    for c in answer.citations:
        page = f", page {c.page}" if c.page is not None else ""
        lines.append(f'[{c.n}] {c.doc_id}{page}, characters {c.start}-{c.end}: "{c.text}"')
    return "\n\n" + "\n".join(lines) if lines else ""


def _citations(answer: Answer) -> list[CitationOut]:
    return [CitationOut(**asdict(c)) for c in answer.citations]


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


def stream_events(
    completion_id: str,
    created: int,
    model: str,
    answer: Answer,
    usage: Usage | None,
    notes: str = "",
) -> Iterator[str]:
    """The answer as chat.completion.chunk events; the first carries citations and answered.

    `notes` (the footnotes, if any) come after the answer's text, in one event.
    """

    def chunk(delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    first = chunk({"role": "assistant", "content": ""}, None)
    first["citations"] = [c.model_dump() for c in _citations(answer)]
    first["answered"] = answer.answered
    if (removed := removed_sentences(answer)) is not None:
        first["removed_sentences"] = removed
    yield _sse(first)
    for piece in pieces(answer.text):
        yield _sse(chunk({"content": piece}, None))
    if notes:
        yield _sse(chunk({"content": notes}, None))
    yield _sse(chunk({}, "stop"))
    if usage is not None:
        final = chunk({}, None)
        final["choices"] = []
        final["usage"] = usage.model_dump()
        yield _sse(final)
    yield _sse("[DONE]")


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    request: Request,
    body: ChatCompletionRequest,
    service: ServiceDep,
    runner: RunnerDep,
    settings: SettingsDep,
) -> ChatCompletion | StreamingResponse:
    """Answer the last user message, reading the earlier ones as the conversation so far.

    The reply quotes the documents with [n] markers; `citations` and `answered` are extension
    fields. Unless the request sends the `qa` extension (or CHAT_FOOTNOTES is off), the content
    also ends with the citations as numbered footnotes, for clients that read only standard
    fields. With `stream: true` the reply comes as server-sent `chat.completion.chunk` events
    ending with `data: [DONE]`, and only the first chunk carries `citations` and `answered`.
    Only `n: 1` is accepted (422 otherwise); `usage` counts the embedding model's tokens.
    """
    result = await runner.run(
        answer_in_context,
        service,
        body.question,
        body.earlier_questions[-settings.history_turns :] if settings.history_turns else [],
        settings.top_k,
        None,
        get_answer_fn(request),
    )
    answer = result.answer
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = settings.chat_model_name
    notes = footnotes(answer) if body.footnotes(settings.chat_footnotes) else ""
    content = answer.text + notes
    usage = _usage(service, "\n".join(m.text for m in body.messages), content)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        events = stream_events(
            completion_id, created, model, answer, usage if include_usage else None, notes
        )
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=model,
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=usage,
        citations=_citations(answer),
        answered=answer.answered,
        removed_sentences=removed_sentences(answer),
    )


@router.get("/models", response_model=ModelList)
async def list_models(request: Request, settings: SettingsDep) -> ModelList:
    """The one model this service offers."""
    return ModelList(data=[_model_card(request, settings)])


@router.get("/models/{model_id}", response_model=ModelCard)
async def get_model(model_id: str, request: Request, settings: SettingsDep) -> ModelCard:
    """The model with this id, or 404 naming the one the service offers."""
    if model_id != settings.chat_model_name:
        raise HTTPException(
            404, f"no model {model_id!r}; this service offers {settings.chat_model_name!r}"
        )
    return _model_card(request, settings)


def _model_card(request: Request, settings: Settings) -> ModelCard:
    started: int = request.app.state.started
    return ModelCard(id=settings.chat_model_name, created=started)
