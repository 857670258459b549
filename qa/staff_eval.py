"""The staff-like question set: how staff ask, scored on refusals, citations and abstentions.

A set is a JSON-lines file of questions (bench/data/staff_questions.jsonl) beside a collection
file naming the documents it is asked over (the seed statement and UN speeches taken from
../shared/corpora by `_id`), so the same index can be rebuilt anywhere the corpus is.
Every answerable question lists phrases copied verbatim from its document; the question counts
as answered right when a citation from that document contains one of them.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa.answer import Answer
from qa.evaluation import contains_answer, read_jsonl

KINDS = (
    "keyword",
    "speaker_topic",
    "yes_no",
    "paraphrase",
    "typo",
    "follow_up",
    "unanswerable_on_topic",
    "unanswerable_off_topic",
)
SPLITS = ("tune", "report")
Outcome = Literal["top1", "top3", "wrong_citation", "wrong_refusal", "refused", "wrong_answer"]
# The ask of one turn: (question, earlier questions of the conversation, oldest first).
AskTurn = Callable[[str, Sequence[str]], Answer]


class StaffSetError(ValueError):
    """The question set or its collection is malformed or does not match the documents."""


@dataclass(frozen=True)
class StaffQuestion:
    """One question as staff ask it, with what must be cited, or that nothing should be."""

    id: str
    split: str
    kind: str
    question: str
    answerable: bool
    doc_id: str | None = None
    expect: tuple[str, ...] = ()
    # Other documents that answer it too, each with its own phrases (a bare keyword many use).
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The earlier turns of a follow-up, oldest first; only the last question is scored.
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    """The documents a set is asked over: seed files and records of a corpus by `_id`."""

    seed_files: tuple[str, ...]
    corpus: str
    corpus_ids: tuple[str, ...]


def parse_question(record: dict[str, Any]) -> StaffQuestion:
    """A question from its JSON record, or StaffSetError naming what is wrong."""
    qid = str(record.get("id", ""))
    if not qid:
        raise StaffSetError(f"a record has no id: {record}")
    kind, split = record.get("kind"), record.get("split")
    if kind not in KINDS:
        raise StaffSetError(f"{qid}: kind must be one of {', '.join(KINDS)}")
    if split not in SPLITS:
        raise StaffSetError(f"{qid}: split must be tune or report")
    turns = [str(t) for t in record.get("turns") or []]
    question = str(record.get("question", "")).strip()
    if turns and turns[-1] != question:
        raise StaffSetError(f"{qid}: the last of turns must be the question")
    if kind == "follow_up" and len(turns) < 2:
        raise StaffSetError(f"{qid}: a follow_up needs at least 2 turns")
    if not question:
        raise StaffSetError(f"{qid}: empty question")
    answerable = bool(record.get("answerable", True))
    expect = tuple(str(e) for e in record.get("expect") or ())
    doc_id = record.get("doc_id")
    if answerable and (not expect or not doc_id):
        raise StaffSetError(f"{qid}: an answerable question needs doc_id and expect")
    also = tuple(
        (str(a.get("doc_id", "")), tuple(str(e) for e in a.get("expect") or ()))
        for a in record.get("also") or ()
    )
    if any(not doc or not phrases for doc, phrases in also):
        raise StaffSetError(f"{qid}: each of also needs doc_id and expect")
    if not answerable and (expect or also):
        raise StaffSetError(f"{qid}: an unanswerable question expects nothing")
    return StaffQuestion(
        id=qid,
        split=str(split),
        kind=str(kind),
        question=question,
        answerable=answerable,
        doc_id=str(doc_id) if doc_id else None,
        expect=expect,
        also=also,
        history=tuple(turns[:-1]),
    )


def load_questions(path: Path) -> list[StaffQuestion]:
    """Every question of a set file, with unique ids."""
    questions = [parse_question(r) for r in read_jsonl(path)]
    repeated = [q for q, n in Counter(q.id for q in questions).items() if n > 1]
    if repeated:
        raise StaffSetError(f"repeated ids: {', '.join(repeated)}")
    return questions


def load_collection(path: Path) -> Collection:
    """The collection file: {"seed_files": [...], "corpus": "...", "corpus_ids": [...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Collection(
        seed_files=tuple(data["seed_files"]),
        corpus=str(data["corpus"]),
        corpus_ids=tuple(data["corpus_ids"]),
    )


def corpus_records(corpus: Path, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The corpus records with these `_id`s, in the order asked; StaffSetError if any is missing."""
    wanted = list(ids)
    found = {r["_id"]: r for r in read_jsonl(corpus) if r.get("_id") in set(wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise StaffSetError(f"{corpus} has no record {', '.join(missing)}")
    return [found[i] for i in wanted]


def expected(question: StaffQuestion) -> list[tuple[str, tuple[str, ...]]]:
    """Each document that answers the question, with the phrases a right citation holds."""
    if not question.answerable or question.doc_id is None:
        return []
    return [(question.doc_id, question.expect), *question.also]


def check_expectations(questions: Iterable[StaffQuestion], texts: dict[str, str]) -> list[str]:
    """Problems of the set against the documents' texts: unknown doc_ids, phrases not verbatim."""
    problems = []
    for q in questions:
        for doc_id, phrases in expected(q):
            text = texts.get(doc_id)
            if text is None:
                problems.append(f"{q.id}: no document {doc_id}")
                continue
            problems.extend(f"{q.id}: {p!r} is not in {doc_id}" for p in phrases if p not in text)
    return problems


def cites_expected(answer: Answer, question: StaffQuestion, depth: int) -> bool:
    """Whether one of the first depth citations is from an answering document, with its phrase."""
    answering = expected(question)
    return any(
        c.doc_id == doc_id and contains_answer(c.text, phrases)
        for c in answer.citations[:depth]
        for doc_id, phrases in answering
    )


def outcome(answer: Answer, question: StaffQuestion) -> Outcome:
    """What happened to one question.

    Answerable: top1, top3 (expected in the 2nd or 3rd citation), wrong_citation (answered,
    expected in none of the first three) or wrong_refusal. Unanswerable: refused or wrong_answer.
    """
    answered = answer.answered and bool(answer.citations)
    if not question.answerable:
        return "wrong_answer" if answered else "refused"
    if not answered:
        return "wrong_refusal"
    if cites_expected(answer, question, 1):
        return "top1"
    return "top3" if cites_expected(answer, question, 3) else "wrong_citation"


@dataclass(frozen=True)
class Result:
    """One question's outcome, with what the service cited first."""

    id: str
    split: str
    kind: str
    question: str
    # The document the question is about (None: off topic).
    doc_id: str | None
    outcome: Outcome
    answered: bool
    confidence: float
    top_doc_id: str | None
    top_text: str | None


@dataclass
class Rates:
    """The figures of a group of questions (None where the group has no such question)."""

    questions: int
    answerable: int
    unanswerable: int
    wrong_refusal: float | None = None
    top1: float | None = None
    top3: float | None = None
    wrong_citation: float | None = None
    wrong_answer: float | None = None


def rates(results: Sequence[Result]) -> Rates:
    """Rates over answerable questions (refusals, citations) and unanswerable ones (answers)."""
    answerable = [r.outcome for r in results if r.outcome not in ("refused", "wrong_answer")]
    unanswerable = [r.outcome for r in results if r.outcome in ("refused", "wrong_answer")]
    report = Rates(len(results), len(answerable), len(unanswerable))
    if answerable:
        report.wrong_refusal = statistics.fmean(o == "wrong_refusal" for o in answerable)
        report.top1 = statistics.fmean(o == "top1" for o in answerable)
        report.top3 = statistics.fmean(o in ("top1", "top3") for o in answerable)
        report.wrong_citation = statistics.fmean(o == "wrong_citation" for o in answerable)
    if unanswerable:
        report.wrong_answer = statistics.fmean(o == "wrong_answer" for o in unanswerable)
    return report


@dataclass
class StaffReport:
    """Rates per split (and all), and per kind and per part of the collection within each."""

    splits: dict[str, Rates] = field(default_factory=dict)
    kinds: dict[str, dict[str, Rates]] = field(default_factory=dict)
    # "seed" (questions about the seed files), "corpus" (about the corpus records).
    parts: dict[str, dict[str, Rates]] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def part_of(result: Result, seed_doc_ids: Container[str]) -> str | None:
    """Whether a question is about a seed file, a corpus record, or nothing (off topic)."""
    if result.doc_id is None:
        return None
    return "seed" if result.doc_id in seed_doc_ids else "corpus"


def summarise(
    results: Sequence[Result], split: str = "all", seed_doc_ids: Container[str] | None = None
) -> StaffReport:
    """The report over the chosen split ("tune", "report", or "all": each, and both together).

    With seed_doc_ids, also per part: questions about the seed files, and about the corpus.
    """
    names = [*SPLITS, "all"] if split == "all" else [split]
    report = StaffReport(results=[r for r in results if split == "all" or r.split == split])
    for name in names:
        group = [r for r in results if name == "all" or r.split == name]
        report.splits[name] = rates(group)
        report.kinds[name] = {
            kind: rates([r for r in group if r.kind == kind])
            for kind in KINDS
            if any(r.kind == kind for r in group)
        }
        if seed_doc_ids is not None:
            parts = [part_of(r, seed_doc_ids) for r in group]
            report.parts[name] = {
                part: rates([r for r, p in zip(group, parts, strict=True) if p == part])
                for part in ("seed", "corpus")
                if part in parts
            }
    return report


def run(
    questions: Sequence[StaffQuestion],
    ask_turn: AskTurn,
    progress: Callable[[int], object] | None = None,
) -> list[Result]:
    """Ask every question (follow-ups after their earlier turns) and record its outcome."""
    results = []
    for q in questions:
        answer = ask_turn(q.question, q.history)
        top = answer.citations[0] if answer.answered and answer.citations else None
        results.append(
            Result(
                id=q.id,
                split=q.split,
                kind=q.kind,
                question=q.question,
                doc_id=q.doc_id,
                outcome=outcome(answer, q),
                answered=answer.answered,
                confidence=answer.confidence,
                top_doc_id=top.doc_id if top else None,
                top_text=top.text if top else None,
            )
        )
        if progress is not None:
            progress(1)
    return results


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def markdown(report: StaffReport) -> str:
    """One table per split: a row for all its questions, one per kind, one per part."""
    lines = []
    for split, overall in report.splits.items():
        lines.append(f"\n**{split}** ({overall.questions} questions)\n")
        lines.append(
            "| kind | n | answerable | wrong refusal | top-1 | top-3 | wrong citation "
            "| unanswerable | wrong answer |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        parts = [(f"({part} documents)", r) for part, r in report.parts.get(split, {}).items()]
        rows = [("all", overall), *report.kinds[split].items(), *parts]
        for kind, r in rows:
            lines.append(
                f"| {kind} | {r.questions} | {r.answerable} | {_percent(r.wrong_refusal)} | "
                f"{_percent(r.top1)} | {_percent(r.top3)} | {_percent(r.wrong_citation)} | "
                f"{r.unanswerable} | {_percent(r.wrong_answer)} |"
            )
    return "\n".join(lines).lstrip("\n")


def failures(results: Iterable[Result]) -> str:
    """A table of the questions not answered right at top-1: what was asked, what was cited."""
    lines = [
        "| id | split | kind | outcome | question | cited first |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.outcome in ("top1", "refused"):
            continue
        text = " ".join((r.top_text or "").split())[:120].replace("|", "/")
        cited = f"{r.top_doc_id}: {text}" if r.top_doc_id else ""
        lines.append(f"| {r.id} | {r.split} | {r.kind} | {r.outcome} | {r.question} | {cited} |")
    return "\n".join(lines)
