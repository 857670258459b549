"""Conversations and their turns in a SQL database (SQLite by default, any SQLAlchemy URL)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from index.errors import InvalidInput, QAError
from qa.answer import Answer, Citation

_metadata = MetaData()
# Tries to number a turn when concurrent follow-ups collide (databases without a write lock).
TURN_ATTEMPTS = 5

conversations = Table(
    "conversations",
    _metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

turns = Table(
    "conversation_turns",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(36),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("n", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("answered", Boolean, nullable=False),
    Column("citations", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "n"),
)


# The write statements are built once with bound parameters: SQLAlchemy then reuses their
# compiled form, where .values(...) per call recomputed a cache key from every value.
# A turn's values besides its number (which _APPEND_TURN computes) and its row id.
_TURN_VALUES = tuple(c.name for c in turns.c if c.name not in ("id", "n"))
_INSERT_CONVERSATION = insert(conversations)
_INSERT_TURN = insert(turns)
# One INSERT ... SELECT takes the write lock before it reads max(n), so concurrent follow-ups
# never pick the same number (a read, then an insert, did); databases that still let two collide
# raise IntegrityError and the turn is numbered again. It inserts nothing when the conversation
# is gone.
_APPEND_TURN = (
    insert(turns)
    .from_select(
        ["n", *_TURN_VALUES],
        select(
            select(func.coalesce(func.max(turns.c.n), 0) + 1)
            .where(turns.c.conversation_id == bindparam("conversation_id"))
            .scalar_subquery(),
            *(bindparam(name, type_=turns.c[name].type) for name in _TURN_VALUES),
        ).where(
            select(conversations.c.id)
            .where(conversations.c.id == bindparam("conversation_id"))
            .exists()
        ),
    )
    .returning(turns.c.n)
)
# PostgreSQL reads max(n) from a snapshot, so 16 concurrent follow-ups outran the retries;
# locking the conversation's row first numbers them one at a time (and waits for a delete in
# progress). SQLite has no row locks: SQLAlchemy leaves FOR UPDATE out.
_LOCK_CONVERSATION = (
    select(conversations.c.id).where(conversations.c.id == bindparam("locked_id")).with_for_update()
)


class ConversationNotFound(QAError):
    """No conversation with that id is stored."""

    code = "conversation_not_found"


@dataclass(frozen=True)
class Turn:
    """One question of a conversation, the query it was answered with, and the answer."""

    n: int
    question: str
    query: str
    answer: str
    answered: bool
    citations: list[Citation]
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    """A conversation's turns, oldest first."""

    conversation_id: str
    created_at: datetime
    turns: list[Turn]


def new_conversation_id() -> str:
    """A fresh, unguessable conversation id."""
    return str(uuid.uuid4())


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_id(conversation_id: str) -> str:
    try:
        return str(uuid.UUID(conversation_id))
    except ValueError:
        raise InvalidInput(
            "conversation_id must be an id returned by the service", field="conversation_id"
        ) from None


class ConversationStore:
    """Creates, reads, extends and deletes conversations; safe to use from several threads."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_foreign_keys)
        _metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def create(self) -> str:
        """A new, empty conversation's id."""
        conversation_id = new_conversation_id()
        with self.engine.begin() as connection:
            connection.execute(
                insert(conversations).values(id=conversation_id, created_at=datetime.now(UTC))
            )
        return conversation_id

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with its turns, or ConversationNotFound."""
        conversation_id = _check_id(conversation_id)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(conversations.c.created_at).where(_is_conversation(conversation_id))
            ).first()
            if row is None:
                raise _not_found(conversation_id)
            rows = connection.execute(
                select(turns).where(turns.c.conversation_id == conversation_id).order_by(turns.c.n)
            ).all()
        history = [_turn(r._mapping) for r in rows]
        return Conversation(conversation_id, _utc(row.created_at), history)

    def recent_questions(self, conversation_id: str, limit: int) -> list[str]:
        """The last `limit` questions asked, oldest first; ConversationNotFound if there is none."""
        conversation_id = _check_id(conversation_id)
        with self.engine.connect() as connection:
            if not connection.execute(_conversation_exists(conversation_id).select()).scalar():
                raise _not_found(conversation_id)
            rows = connection.execute(
                select(turns.c.question)
                .where(turns.c.conversation_id == conversation_id)
                .order_by(turns.c.n.desc())
                .limit(limit)
            ).all()
        return [row.question for row in reversed(rows)]

    def add_turn(
        self, conversation_id: str, question: str, query: str, answer: Answer, *, new: bool = False
    ) -> Turn:
        """Record a question and its answer as the conversation's next turn.

        With new, the conversation is created in the same transaction (its first turn).
        """
        conversation_id = _check_id(conversation_id)
        created_at = datetime.now(UTC)
        values = {
            "conversation_id": conversation_id,
            "question": question,
            "query": query,
            "answer": answer.text,
            "answered": answer.answered,
            "citations": [asdict(c) for c in answer.citations],
            "created_at": created_at,
        }
        if new:
            with self.engine.begin() as connection:
                connection.execute(
                    _INSERT_CONVERSATION, {"id": conversation_id, "created_at": created_at}
                )
                connection.execute(_INSERT_TURN, {"n": 1, **values})
            n = 1
        else:
            n = self._append_turn(conversation_id, values)
        return Turn(n, question, query, answer.text, answer.answered, answer.citations, created_at)

    def _append_turn(self, conversation_id: str, values: dict[str, Any]) -> int:
        """Insert the next turn with one statement (_APPEND_TURN), retried if numbers collide."""
        lock = {"locked_id": conversation_id}
        for attempt in range(TURN_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    if connection.execute(_LOCK_CONVERSATION, lock).first() is None:
                        raise _not_found(conversation_id)
                    n = connection.execute(_APPEND_TURN, values).scalar()
            except IntegrityError:
                # A concurrent turn took the number, or the conversation was deleted meanwhile.
                if attempt == TURN_ATTEMPTS - 1:
                    raise
                continue
            if n is None:  # no row inserted: the conversation is gone
                raise _not_found(conversation_id)
            return int(n)
        raise AssertionError("unreachable")

    def delete(self, conversation_id: str) -> None:
        """Remove the conversation and its turns, or ConversationNotFound."""
        conversation_id = _check_id(conversation_id)
        with self.engine.begin() as connection:
            connection.execute(delete(turns).where(turns.c.conversation_id == conversation_id))
            removed = connection.execute(
                delete(conversations).where(_is_conversation(conversation_id))
            ).rowcount
        if not removed:
            raise _not_found(conversation_id)


def _is_conversation(conversation_id: str) -> ColumnElement[bool]:
    """The condition that picks one conversation's row."""
    return conversations.c.id == conversation_id


def _conversation_exists(conversation_id: str) -> Exists:
    """EXISTS (the conversation's row): the one "is it there" query, used alone or in a WHERE."""
    return select(conversations.c.id).where(_is_conversation(conversation_id)).exists()


def _not_found(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(
        f"no conversation with id {conversation_id!r}", field="conversation_id"
    )


def _turn(row: Any) -> Turn:
    return Turn(
        n=row["n"],
        question=row["question"],
        query=row["query"],
        answer=row["answer"],
        answered=row["answered"],
        citations=[Citation(**c) for c in row["citations"]],
        created_at=_utc(row["created_at"]),
    )


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging: readers never wait for a writer, and a commit is one append. With
    # synchronous=NORMAL a power cut may drop the last turns but never corrupts the database.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
