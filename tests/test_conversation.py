"""Follow-up resolution: unit behaviour, and the multi-turn set in tests/data/followups.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import ChunkingConfig
from index.embedding import SentenceTransformerEmbedder
from index.store import IndexStore
from qa.answer import Answer, Citation
from qa.conversation import (
    MORE,
    ConversationalQA,
    addresses,
    answer_in_context,
    is_follow_up,
    moves_on,
    resolve,
    stays,
    topic_terms,
)
from qa.conversation_store import ConversationStore, sqlite_url
from qa.service import QAService
from tests.conftest import SEED_DOC_ID, SEEDS, seed_questions

FOLLOWUPS = Path(__file__).parent / "data" / "followups.jsonl"
SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def service(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> QAService:
    store = IndexStore(tmp_path_factory.mktemp("conversation-index"))
    qa = QAService(store, embedder, ChunkingConfig())
    qa.index_paths([SEEDS])
    return qa


def _cases() -> list[dict[str, object]]:
    return [json.loads(line) for line in FOLLOWUPS.read_text(encoding="utf-8").splitlines()]


def _correct(answer: Answer, expect: list[str]) -> bool:
    if not expect:
        return not answer.answered and answer.citations == []
    return answer.answered and any(p in answer.citations[0].text for p in expect)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What should they strengthen coordination with?", True),
        ("Which countries in particular?", True),
        ("And what cooperation does China participate in?", True),
        ("To which cause?", True),
        ("What should the international community exchange?", False),
        ("What does China oppose?", False),
        ("Which convention is China a state party to?", False),
        ("What else should counter-terrorism do?", True),
    ],
)
def test_is_follow_up(question: str, expected: bool) -> None:
    assert is_follow_up(question) is expected


def test_topic_terms_drop_function_and_filler_words() -> None:
    assert topic_terms("Which countries in particular?") == {"countri"}


def test_resolve_adds_the_rarest_terms_of_the_previous_question(service: QAService) -> None:
    resolved = resolve(
        service.snapshot,
        "What should they strengthen coordination with?",
        ["What agencies does China support?"],
    )
    assert resolved.follow_up is True
    assert resolved.context_terms == ("agencies", "China", "support")
    assert resolved.query == "What should they strengthen coordination with? agencies China support"


def test_resolve_weights_the_newest_turn(service: QAService) -> None:
    resolved = resolve(
        service.snapshot,
        "And what advantages should they give full play to?",
        ["What agencies does China support?", "What should they strengthen coordination with?"],
    )
    # Up to four terms from the last turn, two from the one before.
    assert resolved.context_terms == ("coordination", "strengthen", "agencies", "China")


def test_resolve_leaves_a_standalone_question_alone(service: QAService) -> None:
    question = "What should the international community exchange?"
    resolved = resolve(service.snapshot, question, ["What agencies does China support?"])
    assert (resolved.query, resolved.follow_up, resolved.context_terms) == (question, False, ())


def test_required_follow_up_cites_coordination_with_regional_organizations(
    service: QAService,
) -> None:
    result = answer_in_context(
        service,
        "What should they strengthen coordination with?",
        ["What agencies does China support?"],
    )
    top = result.answer.citations[0]
    assert "strengthen coordination with regional organizations" in top.text
    assert SEED_TEXT[top.start : top.end] == top.text
    # Asked alone, the same words find another sentence.
    alone = service.ask("What should they strengthen coordination with?")
    assert "regional organizations" not in alone.citations[0].text


def test_a_new_unanswerable_question_does_not_borrow_the_topic(service: QAService) -> None:
    history = ["What agencies does China support?"]
    question = "And Brazil?"
    resolved = resolve(service.snapshot, question, history)
    borrowed = service.ask(resolved.query)
    # Whether or not the topic's terms alone make an answer, none addresses the question.
    assert addresses(borrowed, question) is False
    result = answer_in_context(service, question, history)
    assert result.answer.answered is False
    assert result.resolved.query == question


def test_followup_set(service: QAService, capsys: pytest.CaptureFixture[str]) -> None:
    """Each later turn of each conversation, answered with and without the earlier turns."""
    resolved_correct = alone_correct = total = 0
    failures = []
    for case in _cases():
        turns = case["turns"]
        assert isinstance(turns, list)
        history: list[str] = []
        for i, turn in enumerate(turns):
            result = answer_in_context(service, turn["question"], history)
            for c in result.answer.citations:
                assert SEED_TEXT[c.start : c.end] == c.text
            if i > 0:
                total += 1
                if _correct(result.answer, turn["expect"]):
                    resolved_correct += 1
                else:
                    failures.append((case["id"], turn["question"], result.resolved.query))
                alone_correct += _correct(service.ask(turn["question"]), turn["expect"])
            history.append(turn["question"])
    with capsys.disabled():
        print(
            f"\nfollow-up set: {resolved_correct}/{total} correct with earlier turns, "
            f"{alone_correct}/{total} asked alone"
        )
    assert failures == []
    assert total == 16
    assert alone_correct < resolved_correct


def test_conversational_qa_records_turns(service: QAService, tmp_path: Path) -> None:
    store = ConversationStore(sqlite_url(tmp_path / "c.db"))
    chat = ConversationalQA(service, store)
    conversation_id, first, _ = chat.ask("What agencies does China support?")
    same_id, second, result = chat.ask(
        "What should they strengthen coordination with?", conversation_id
    )
    assert same_id == conversation_id
    assert (first.n, second.n) == (1, 2)
    assert second.query == "What should they strengthen coordination with? agencies China support"
    assert result.resolved.follow_up is True
    stored = store.get(conversation_id)
    assert [t.question for t in stored.turns] == [first.question, second.question]
    assert stored.turns[1].citations == result.answer.citations
    store.close()


def test_standalone_questions_after_an_unrelated_turn(service: QAService) -> None:
    """English seed questions asked after another one get the answer they get when asked alone.

    (All 110 ordered pairs do; four earlier turns keep the test quick.)
    """
    questions = [str(q["question"]) for q in seed_questions() if q["kind"] != "multilingual"]
    earlier_turns = questions[0], questions[2], questions[6], questions[9]

    def top(answer: Answer) -> tuple[bool, tuple[int, int] | None]:
        first = answer.citations[0] if answer.citations else None
        return answer.answered, (first.start, first.end) if first else None

    alone = {question: top(service.ask(question)) for question in questions}
    changed = [
        (earlier, question)
        for earlier in earlier_turns
        for question in questions
        if question != earlier
        and top(answer_in_context(service, question, [earlier]).answer) != alone[question]
    ]
    assert len(questions) == 11
    assert changed == []


def test_what_else_gives_sentences_not_cited_yet(service: QAService) -> None:
    first = answer_in_context(service, "What does China oppose?", []).answer
    assert first.answered
    more = answer_in_context(service, "What else must we oppose?", ["What does China oppose?"])
    assert more.answer.answered and more.resolved.follow_up
    cited_before = {(c.start, c.end) for c in first.citations}
    assert cited_before.isdisjoint((c.start, c.end) for c in more.answer.citations)
    for citation in more.answer.citations:
        assert SEED_TEXT[citation.start : citation.end] == citation.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [("What else?", True), ("Why?", True), ("Anything more on that?", True), ("Who?", False)],
)
def test_requests_for_more_are_recognised(question: str, expected: bool) -> None:
    assert bool(MORE.search(question)) is expected


def _answer(doc_id: str | None, score: float = 0.0) -> Answer:
    if doc_id is None:
        return Answer(False, "The documents do not answer this question.")
    citation = Citation(1, doc_id, "A sentence.", 0, 11, score)
    return Answer(True, "\u201cA sentence.\u201d [1]", [citation], 0.9)


@pytest.mark.parametrize(
    ("stay", "anywhere", "follow_up", "expected"),
    [
        # Another document clearly better: the previous answer was from the wrong one.
        (_answer("a", 0.80), _answer("b", 0.95), True, False),
        # Comparable (within the margin): the conversation stays.
        (_answer("a", 0.80), _answer("b", 0.85), True, True),
        (_answer("a", 0.80), _answer("b", 0.85), False, True),
        # The best anywhere is in the previous document anyway.
        (_answer("a", 0.70), _answer("a", 0.90), False, True),
        # Nothing answers elsewhere.
        (_answer("a", 0.70), _answer(None), False, True),
        # The previous document does not answer: a follow-up is refused there, a new question
        # is answered where it is answered.
        (_answer(None), _answer("b", 0.9), True, True),
        (_answer(None), _answer("b", 0.9), False, False),
        (_answer(None), _answer(None), False, False),
    ],
)
def test_stays_with_the_previous_document_only_when_it_answers_comparably(
    stay: Answer, anywhere: Answer, follow_up: bool, expected: bool
) -> None:
    assert stays(stay, anywhere, {"a"}, follow_up, margin=0.08) is expected


def test_an_unanswered_follow_up_moves_only_if_answered_elsewhere() -> None:
    refused, elsewhere = _answer(None), _answer("b", 0.9)
    assert stays(refused, elsewhere, {"a"}, True, margin=0.08, elsewhere=True) is False
    assert stays(refused, elsewhere, {"a"}, True, margin=0.08, elsewhere=False) is True


@pytest.fixture(scope="module")
def two_documents(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> QAService:
    folder = tmp_path_factory.mktemp("two-documents")
    (folder / "forest.txt").write_text(
        "The forest fund pays for reforestation in the north. "
        "The fund will also send surveyors to map the new woods.",
        encoding="utf-8",
    )
    (folder / "harbour.txt").write_text(
        "The harbour authority will send engineers, cranes and equipment to the port.",
        encoding="utf-8",
    )
    qa = QAService(IndexStore(folder / "index"), embedder, ChunkingConfig())
    qa.index_paths([folder / "forest.txt", folder / "harbour.txt"])
    return qa


def test_a_follow_up_stays_with_the_previous_answer_s_document(two_documents: QAService) -> None:
    first = answer_in_context(two_documents, "Who pays for reforestation?", []).answer
    assert first.citations[0].doc_id == "forest.txt"

    follow = answer_in_context(
        two_documents, "And what will it send?", ["Who pays for reforestation?"]
    )

    assert follow.answer.answered
    assert {c.doc_id for c in follow.answer.citations} == {"forest.txt"}


def test_a_new_question_in_a_conversation_moves_to_the_document_that_answers_it(
    two_documents: QAService,
) -> None:
    history = ["Who pays for reforestation?"]
    result = answer_in_context(two_documents, "Which cranes go to the port?", history)
    assert result.resolved.follow_up is False
    assert result.answer.citations[0].doc_id == "harbour.txt"
    assert result.answer.citations[0].text == (
        "The harbour authority will send engineers, cranes and equipment to the port."
    )


def test_a_follow_up_answer_that_only_repeats_the_previous_one_does_not_move_on() -> None:
    before = _answer("a", 0.9)
    assert moves_on(_answer("a", 0.7), [before]) is False
    other = Citation(1, "a", "Another sentence.", 20, 37, 0.7)
    assert moves_on(Answer(True, "\u201cAnother sentence.\u201d [1]", [other]), [before]) is True
    assert moves_on(_answer(None), [before]) is False
    assert moves_on(_answer("a", 0.7), []) is False
