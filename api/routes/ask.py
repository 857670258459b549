"""Questions answered with verbatim citations, alone or as follow-ups in a conversation."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import ChatDep, RunnerDep, SettingsDep
from api.errors import ERROR_RESPONSES
from api.schemas import AskRequest, AskResponse, CitationOut, CorrectionOut
from qa.generate import removed_sentences

router = APIRouter(tags=["ask"], responses=ERROR_RESPONSES)


@router.post("/ask", response_model=AskResponse)
async def ask(
    body: AskRequest, chat: ChatDep, runner: RunnerDep, settings: SettingsDep
) -> AskResponse:
    """Answer a question by quoting the documents, or say that they do not answer it.

    Every answer names its conversation; send that `conversation_id` with the next question to
    ask a follow-up ("What should they strengthen coordination with?").
    """
    # One hop to a query thread: the model has its own thread, so storage there blocks no model.
    conversation_id, _, result = await runner.run(
        chat.ask,
        body.question,
        body.conversation_id,
        body.top_k or settings.top_k,
        body.doc_ids,
    )
    answer = result.answer
    return AskResponse(
        answer=answer.text,
        answered=answer.answered,
        citations=[CitationOut(**asdict(c)) for c in answer.citations],
        conversation_id=conversation_id,
        removed_sentences=removed_sentences(answer),
        corrections=[CorrectionOut(**asdict(r)) for r in answer.rewrites],
        scope=list(answer.scope),
    )
