"""Follow-up questions: read in the light of the earlier turns, without a language model.

A follow-up such as "What should they strengthen coordination with?" names nothing that can be
found on its own. It is resolved by retrieving with the question itself plus the salient terms of
the earlier questions: a few from the last turn, fewer from older ones, so the current question
keeps the most weight. An answer found that way is kept only if its best sentence still shares a
term with the current question; otherwise the question is answered on its own, so an unrelated
new question cannot borrow an answer from the conversation's topic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.snapshot import IndexSnapshot
from index.text import WORD as _WORD
from index.text import tokenize
from qa.answer import Answer
from qa.conversation_store import ConversationStore, Turn, new_conversation_id
from qa.service import QAService

# Words that point back at something named in an earlier turn ("there" is left out: "is there"
# asks whether something exists far more often than it points back at a place).
ANAPHORS = frozenset(
    "they them their theirs it its this that these those he him his she her former latter "
    "same".split()
)
# Openings that continue the previous question rather than start a new one.
CONTINUATIONS = ("and ", "but ", "also ", "so ", "then ", "or ", "what about ", "how about ")
# Pronouns that point back at the previous answer's speaker, so at its first document.
SPEAKER_PRONOUNS = frozenset("he she him her his hers".split())
# A follow-up asking for more ("What else...?", "Why?") gets sentences not cited yet.
MORE = re.compile(
    r"\b(?:else|more|other|others|another|further|besides|additionally)\b|^\W*why\b",
    re.IGNORECASE,
)
# Words that ask for more of the same; they name no topic of their own.
FILLER = frozenset(
    "particular particularly specifically specific exactly example instance else more detail "
    "details elaborate explain addition besides".split()
)


class AskFn(Protocol):
    """Answers a query: the service's extractive answer, or a generator's."""

    def __call__(
        self,
        question: str,
        top_k: int = 8,
        doc_ids: Collection[str] | None = None,
        exclude: Collection[tuple[str, int, int]] = (),
    ) -> Answer: ...


@dataclass(frozen=True)
class FollowUpConfig:
    """How much of the earlier turns a follow-up borrows."""

    # Context terms taken from the last turn, the one before, and so on; older turns give none.
    terms_per_turn: tuple[int, ...] = (4, 2, 1)
    # A question with at most this many topic terms is read as a follow-up even without a pronoun.
    short_question_terms: int = 1


@dataclass(frozen=True)
class ResolvedQuestion:
    """The question as asked, and the retrieval query it was answered with."""

    question: str
    query: str
    follow_up: bool
    context_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurnAnswer:
    """An answer and the query that produced it."""

    answer: Answer
    resolved: ResolvedQuestion


def _words(text: str) -> list[tuple[str, str]]:
    """(surface word, search token) for each topic word of text, first occurrence only."""
    seen: set[str] = set()
    words = []
    for match in _WORD.finditer(text):
        tokens = tokenize(match.group(0))
        # A CJK run yields several bigram tokens; each is its own surface form.
        pairs = [(match.group(0), tokens[0])] if len(tokens) == 1 else [(t, t) for t in tokens]
        for surface, token in pairs:
            if token not in seen and surface.lower() not in FILLER:
                seen.add(token)
                words.append((surface, token))
    return words


def lower_words(text: str) -> set[str]:
    """The words of text as written, lower-cased (pronouns and cues are read from them)."""
    return {w.lower() for w in _WORD.findall(text)}


def topic_terms(text: str) -> set[str]:
    """The search tokens of text that name what it is about (no function or filler words)."""
    return {token for _, token in _words(text)}


def is_follow_up(question: str, config: FollowUpConfig | None = None) -> bool:
    """Whether the question leans on earlier turns: a pronoun, a continuation, a request for
    more, or too few terms."""
    config = config or FollowUpConfig()
    lowered = question.strip().lower()
    if lowered.startswith(CONTINUATIONS):
        return True
    if lower_words(lowered) & ANAPHORS:
        return True
    if MORE.search(question):
        return True  # "What else should counter-terrorism do?" asks past what was cited
    return len(topic_terms(question)) <= config.short_question_terms


def salient_terms(
    snapshot: IndexSnapshot,
    question: str,
    history: Sequence[str],
    config: FollowUpConfig | None = None,
) -> list[str]:
    """The rarest indexed terms of the earlier questions, newest turn first, not already asked."""
    config = config or FollowUpConfig()
    taken = topic_terms(question)
    terms: list[str] = []
    document_frequency = snapshot.keywords.document_frequency
    for budget, earlier in zip(config.terms_per_turn, reversed(history), strict=False):
        # Terms the index does not contain cannot help find a passage.
        candidates = [
            (surface, token)
            for surface, token in _words(earlier)
            if token not in taken and document_frequency.get(token, 0) > 0
        ]
        candidates.sort(key=lambda pair: snapshot.idf(pair[1]), reverse=True)
        for surface, token in candidates[:budget]:
            taken.add(token)
            terms.append(surface)
    return terms


def resolve(
    snapshot: IndexSnapshot,
    question: str,
    history: Sequence[str],
    config: FollowUpConfig | None = None,
) -> ResolvedQuestion:
    """The retrieval query for question, given the earlier questions of its conversation."""
    config = config or FollowUpConfig()
    if not history or not is_follow_up(question, config):
        return ResolvedQuestion(question, question, follow_up=False)
    terms = salient_terms(snapshot, question, history, config)
    query = f"{question} {' '.join(terms)}" if terms else question
    return ResolvedQuestion(question, query, follow_up=True, context_terms=tuple(terms))


def addresses(answer: Answer, question: str) -> bool:
    """Whether the answer's best sentence shares a topic term with the question (if it has any)."""
    if not answer.answered or not answer.citations:
        return False
    asked = topic_terms(question)
    return not asked or bool(asked & set(tokenize(answer.citations[0].text)))


def answer_in_context(
    service: QAService,
    question: str,
    history: Sequence[str],
    top_k: int = 8,
    config: FollowUpConfig | None = None,
    ask: AskFn | None = None,
    doc_ids: Collection[str] | None = None,
) -> TurnAnswer:
    """Answer question as a turn after the earlier questions in history (oldest first).

    ask answers a query (default: the service's extractive answer; a generator's otherwise);
    with doc_ids, from those documents only.
    """
    ask = ask or service.ask
    resolved = resolve(service.snapshot, question, history, config)
    exclude: frozenset[tuple[str, int, int]] = frozenset()
    previous: frozenset[str] = frozenset()
    earlier: list[Answer] = []
    words = lower_words(question)
    if history:
        earlier = earlier_answers(service, history, top_k, config, ask, doc_ids)
        if resolved.follow_up and MORE.search(question):
            exclude = frozenset((c.doc_id, c.start, c.end) for a in earlier for c in a.citations)
        if earlier and earlier[-1].citations and not service.named_documents(question):
            # "He" is one speaker, the first cited; "they" or "it" may be in any cited document.
            cited = earlier[-1].citations[:1] if words & SPEAKER_PRONOUNS else earlier[-1].citations
            previous = frozenset(c.doc_id for c in cited)
            if doc_ids is not None:
                previous &= frozenset(doc_ids)
    searched = doc_ids
    if previous and (doc_ids is None or previous != frozenset(doc_ids)):
        # Which documents the conversation is in is decided once, on the query with its
        # earlier turns' terms (the question alone says nothing of what "it" was), by the
        # extractive answers' scores (cached; a generator is asked only for the answer).
        anywhere = service.ask(resolved.query, top_k, doc_ids, exclude)
        stay = service.ask(resolved.query, top_k, previous, exclude)
        margin = service.answerer.config.follow_margin
        # A follow-up that points back ("Does it include...?") is about the previous answer's
        # documents; one that does not ("Which departments in particular?") may be answered
        # in its own words elsewhere.
        elsewhere = not (words & ANAPHORS) and addresses(anywhere, question)
        if stays(stay, anywhere, previous, resolved.follow_up, margin, elsewhere):
            searched = previous
    if resolved.query != question or exclude:
        answer = ask(resolved.query, top_k, searched, exclude)
        if exclude or addresses(answer, question) or moves_on(answer, earlier):
            return TurnAnswer(answer, resolved)
    alone = ResolvedQuestion(question, question, follow_up=resolved.follow_up)
    return TurnAnswer(ask(question, top_k, searched), alone)


def stays(
    stay: Answer,
    anywhere: Answer,
    previous: Collection[str],
    follow_up: bool,
    margin: float,
    elsewhere: bool = False,
) -> bool:
    """Whether a turn keeps the answer from the previous answer's documents (stay) rather than
    the one from all of them (anywhere).

    A follow-up ("When was it signed?") stays unless another document's best sentence scores
    clearly better (more than margin, the distance within which sentences count as equally
    good answers): then the previous answer was likely from the wrong document ("What did
    Biden say about Iran?" cited another speech) and the conversation moves. It moves too when
    the previous documents do not answer it and elsewhere says that another answers it in the
    follow-up's own words. A new question stays only when the previous documents answer it
    comparably.
    """
    if not anywhere.answered or not anywhere.citations:
        return stay.answered or follow_up
    if not stay.answered or not stay.citations:
        # A follow-up the previous documents do not answer is refused there, unless another
        # document answers it in its own words: then the previous answer was from the wrong one.
        return follow_up and not elsewhere
    if anywhere.citations[0].doc_id in previous:
        return True
    return stay.citations[0].score >= anywhere.citations[0].score - margin


def moves_on(answer: Answer, earlier: Sequence[Answer]) -> bool:
    """Whether the answer says something the previous one did not open with.

    A follow-up's query carries the earlier turns' terms; an answer that only repeats the
    previous answer's first sentence was found by those terms ("And about cybersecurity?"
    after customs), while a new first sentence was found by the question's own words, even
    when it says them otherwise ("how many will it send in total" and "the target of all
    2500 police officers").
    """
    if not answer.answered or not answer.citations or not earlier or not earlier[-1].citations:
        return False
    first, before = answer.citations[0], earlier[-1].citations[0]
    return (first.doc_id, first.start, first.end) != (before.doc_id, before.start, before.end)


def earlier_answers(
    service: QAService,
    history: Sequence[str],
    top_k: int,
    config: FollowUpConfig | None,
    ask: AskFn,
    doc_ids: Collection[str] | None,
) -> list[Answer]:
    """The answers the earlier questions got, oldest first (from the answer cache, mostly)."""
    answers = []
    for n, earlier in enumerate(history):
        query = resolve(service.snapshot, earlier, history[:n], config).query
        answers.append(ask(query, top_k, doc_ids))
    return answers


class ConversationalQA:
    """Questions asked within stored conversations."""

    def __init__(
        self,
        service: QAService,
        store: ConversationStore,
        config: FollowUpConfig | None = None,
        history_turns: int = 3,
        ask: AskFn | None = None,
    ) -> None:
        self.service = service
        self.answer_fn = ask
        self.store = store
        self.config = config or FollowUpConfig()
        self.history_turns = history_turns

    def ask(
        self,
        question: str,
        conversation_id: str | None = None,
        top_k: int = 8,
        doc_ids: Collection[str] | None = None,
    ) -> tuple[str, Turn, TurnAnswer]:
        """Answer within the conversation (a new one when None) and record the turn.

        A new conversation is stored with its first turn, in one transaction.
        """
        new = conversation_id is None
        conversation_id, history = self.begin(conversation_id)
        result = self.answer(question, history, top_k, doc_ids)
        return conversation_id, self.record(conversation_id, question, result, new=new), result

    def begin(self, conversation_id: str | None) -> tuple[str, list[str]]:
        """The conversation's id (a new one, not yet stored, when None) and its recent questions."""
        if conversation_id is None:
            return new_conversation_id(), []
        return conversation_id, self.store.recent_questions(conversation_id, self.history_turns)

    def answer(
        self,
        question: str,
        history: list[str],
        top_k: int = 8,
        doc_ids: Collection[str] | None = None,
    ) -> TurnAnswer:
        """Answer in the context of the earlier questions; touches no storage."""
        return answer_in_context(
            self.service, question, history, top_k, self.config, self.answer_fn, doc_ids
        )

    def record(
        self, conversation_id: str, question: str, result: TurnAnswer, *, new: bool = False
    ) -> Turn:
        """Store the turn (with new, as the first of a conversation begin() just named)."""
        return self.store.add_turn(
            conversation_id, question, result.resolved.query, result.answer, new=new
        )
