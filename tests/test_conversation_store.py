"""The SQL conversation store, on SQLite files and on a PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.errors import InvalidInput
from qa.answer import NO_ANSWER, Answer, Citation
from qa.conversation_store import (
    ConversationNotFound,
    ConversationStore,
    new_conversation_id,
    sqlite_url,
)

CITATION = Citation(1, "doc.txt", "Some text.", 10, 20, 0.9)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file, or this session's schema on the PostgreSQL server."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "nested" / "conversations.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[ConversationStore]:
    opened = ConversationStore(store_url)
    yield opened
    opened.close()


def test_turns_are_numbered_and_read_back_in_order(store: ConversationStore) -> None:
    conversation_id = store.create()
    store.add_turn(
        conversation_id, "first?", "first?", Answer(True, "“Some text.” [1]", [CITATION])
    )
    store.add_turn(conversation_id, "second?", "second? first", Answer(False, NO_ANSWER, []))
    conversation = store.get(conversation_id)
    assert conversation.conversation_id == conversation_id
    assert [(t.n, t.question, t.query, t.answered) for t in conversation.turns] == [
        (1, "first?", "first?", True),
        (2, "second?", "second? first", False),
    ]
    assert conversation.turns[0].citations == [CITATION]
    assert conversation.turns[1].answer == NO_ANSWER
    assert conversation.turns[0].created_at.tzinfo is not None


def test_a_new_conversation_is_stored_with_its_first_turn(store: ConversationStore) -> None:
    conversation_id = new_conversation_id()
    with pytest.raises(ConversationNotFound):
        store.get(conversation_id)
    turn = store.add_turn(conversation_id, "q?", "q?", Answer(False, NO_ANSWER, []), new=True)
    store.add_turn(conversation_id, "r?", "r? q", Answer(False, NO_ANSWER, []))
    assert turn.n == 1
    assert [t.n for t in store.get(conversation_id).turns] == [1, 2]
    assert store.recent_questions(conversation_id, 3) == ["q?", "r?"]


def test_recent_questions_are_the_last_ones_oldest_first(store: ConversationStore) -> None:
    conversation_id = store.create()
    for question in ("a?", "b?", "c?", "d?"):
        store.add_turn(conversation_id, question, question, Answer(False, NO_ANSWER))
    assert store.recent_questions(conversation_id, 3) == ["b?", "c?", "d?"]
    assert store.recent_questions(store.create(), 3) == []


def test_a_reopened_store_keeps_conversations(store_url: str) -> None:
    url = store_url
    first = ConversationStore(url)
    conversation_id = first.create()
    first.add_turn(conversation_id, "q?", "q?", Answer(True, "“Some text.” [1]", [CITATION]))
    first.close()
    reopened = ConversationStore(url)
    assert reopened.get(conversation_id).turns[0].citations == [CITATION]
    reopened.close()


def test_delete_removes_the_conversation_and_its_turns(store: ConversationStore) -> None:
    conversation_id = store.create()
    store.add_turn(conversation_id, "q?", "q?", Answer(False, NO_ANSWER))
    store.delete(conversation_id)
    with pytest.raises(ConversationNotFound):
        store.get(conversation_id)
    with pytest.raises(ConversationNotFound):
        store.delete(conversation_id)


def test_unknown_and_malformed_ids(store: ConversationStore) -> None:
    with pytest.raises(ConversationNotFound) as missing:
        store.add_turn("8c5e2a1e-6f39-4f7e-9d7e-2f1b0f7d1c11", "q?", "q?", Answer(False, NO_ANSWER))
    assert missing.value.field == "conversation_id"
    with pytest.raises(InvalidInput) as malformed:
        store.get("../etc/passwd")
    assert malformed.value.field == "conversation_id"


def test_concurrent_follow_ups_get_distinct_turn_numbers(store: ConversationStore) -> None:
    conversation_id = store.create()
    answer = Answer(True, "“Some text.” [1]", [CITATION])

    def ask(i: int) -> int:
        return store.add_turn(conversation_id, f"q{i}?", f"q{i}?", answer).n

    with ThreadPoolExecutor(16) as pool:
        numbers = list(pool.map(ask, range(80)))
    assert sorted(numbers) == list(range(1, 81))
    assert [t.n for t in store.get(conversation_id).turns] == list(range(1, 81))


def test_a_follow_up_to_a_conversation_deleted_meanwhile_is_not_found(
    store: ConversationStore,
) -> None:
    answer = Answer(True, "“Some text.” [1]", [CITATION])
    for _ in range(10):
        conversation_id = store.create()
        store.add_turn(conversation_id, "q?", "q?", answer)

        def ask(i: int, conversation_id: str = conversation_id) -> str:
            try:
                store.add_turn(conversation_id, f"q{i}?", f"q{i}?", answer)
            except ConversationNotFound:
                return "not found"
            return "added"

        with ThreadPoolExecutor(8) as pool:
            outcomes = pool.map(ask, range(8))
            store.delete(conversation_id)
            assert set(outcomes) <= {"added", "not found"}
        with pytest.raises(ConversationNotFound):
            store.add_turn(conversation_id, "late?", "late?", answer)
