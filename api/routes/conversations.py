"""Stored conversations: read one with its turns, or delete it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import ConversationsDep
from api.errors import ERROR_RESPONSES
from api.schemas import CitationOut, ConversationOut, TurnOut

# The id the service returned (a UUID); the store refuses anything else with a 422.
ConversationIdPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=ERROR_RESPONSES)


@router.get("/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    conversation_id: ConversationIdPath, store: ConversationsDep
) -> ConversationOut:
    """The conversation's turns, oldest first, each with its citations."""
    conversation = store.get(conversation_id)
    return ConversationOut(
        conversation_id=conversation.conversation_id,
        created_at=conversation.created_at,
        turns=[
            TurnOut(
                n=t.n,
                question=t.question,
                query=t.query,
                answer=t.answer,
                answered=t.answered,
                citations=[CitationOut(**asdict(c)) for c in t.citations],
                created_at=t.created_at,
            )
            for t in conversation.turns
        ],
    )


@router.delete("/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: ConversationIdPath, store: ConversationsDep) -> Response:
    """Remove the conversation and its turns."""
    store.delete(conversation_id)
    return Response(status_code=204)
