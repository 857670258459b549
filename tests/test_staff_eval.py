"""The staff question set's scoring, exact on hand-made answers, and the set file itself."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from qa.answer import NO_ANSWER, Answer, Citation
from qa.evaluation import read_jsonl
from qa.staff_eval import (
    KINDS,
    StaffQuestion,
    StaffSetError,
    check_expectations,
    failures,
    load_collection,
    load_questions,
    outcome,
    parse_question,
    run,
    summarise,
)
from tests.conftest import ROOT, SEED_DOC_ID, SHARED

SET = ROOT / "bench" / "data" / "staff_questions.jsonl"
COLLECTION = ROOT / "bench" / "data" / "staff_collection.json"


def question(
    qid: str, kind: str = "keyword", split: str = "tune", **fields: object
) -> StaffQuestion:
    record = {"id": qid, "kind": kind, "split": split, "question": f"q {qid}", **fields}
    return parse_question(record)


def answer(*cited: tuple[str, str]) -> Answer:
    citations = [
        Citation(n, doc, text, 0, len(text), 0.5) for n, (doc, text) in enumerate(cited, 1)
    ]
    return Answer(
        answered=bool(citations), text="..." if citations else NO_ANSWER, citations=citations
    )


ASKED = question("a", doc_id="d1", expect=["the phrase"])
NOT_ASKED = question("u", kind="unanswerable_off_topic", answerable=False)


def test_outcomes_of_answerable_and_unanswerable_questions() -> None:
    assert outcome(answer(("d1", "Here is The  phrase.")), ASKED) == "top1"
    assert outcome(answer(("d1", "other"), ("d2", "x"), ("d1", "the phrase")), ASKED) == "top3"
    # The right words from another document are a wrong citation, as is the 4th citation.
    assert outcome(answer(("d2", "the phrase")), ASKED) == "wrong_citation"
    assert outcome(answer(*[("d1", "no")] * 3, ("d1", "the phrase")), ASKED) == "wrong_citation"
    assert outcome(answer(), ASKED) == "wrong_refusal"
    # A document listed in also answers with its own phrases only.
    both = question(
        "b", doc_id="d1", expect=["the phrase"], also=[{"doc_id": "d2", "expect": ["x"]}]
    )
    assert outcome(answer(("d2", "an x here")), both) == "top1"
    assert outcome(answer(("d2", "the phrase")), both) == "wrong_citation"
    assert outcome(answer(), NOT_ASKED) == "refused"
    assert outcome(answer(("d1", "anything")), NOT_ASKED) == "wrong_answer"


def test_records_are_validated() -> None:
    with pytest.raises(StaffSetError, match="needs doc_id and expect"):
        parse_question({"id": "x", "kind": "keyword", "split": "tune", "question": "q"})
    with pytest.raises(StaffSetError, match="at least 2 turns"):
        question("x", kind="follow_up", turns=["q x"], doc_id="d", expect=["e"])
    with pytest.raises(StaffSetError, match="last of turns"):
        question("x", kind="follow_up", turns=["a", "b"], doc_id="d", expect=["e"])
    with pytest.raises(StaffSetError, match="each of also"):
        question("x", doc_id="d", expect=["e"], also=[{"doc_id": "d2"}])
    with pytest.raises(StaffSetError, match="expects nothing"):
        question("x", answerable=False, also=[{"doc_id": "d2", "expect": ["e"]}])
    with pytest.raises(StaffSetError, match="kind must be"):
        question("x", kind="trivia", doc_id="d", expect=["e"])
    follow = question("f", kind="follow_up", turns=["first", "q f"], doc_id="d", expect=["e"])
    assert (follow.question, follow.history) == ("q f", ("first",))


def test_expectations_must_be_verbatim_in_their_document() -> None:
    texts = {"d1": "It says the phrase here."}
    wrong_doc = question("b", doc_id="d9", expect=["x"])
    not_verbatim = question("c", doc_id="d1", expect=["the  phrase", "says"])
    also = question("d", doc_id="d1", expect=["says"], also=[{"doc_id": "d1", "expect": ["no"]}])
    assert check_expectations([ASKED, wrong_doc, not_verbatim, also, NOT_ASKED], texts) == [
        "b: no document d9",
        "c: 'the  phrase' is not in d1",
        "d: 'no' is not in d1",
    ]


def test_run_asks_follow_ups_after_their_turns_and_summarises_per_split_and_kind() -> None:
    questions = [
        ASKED,
        question("b", split="report", doc_id="d1", expect=["the phrase"]),
        question("c", kind="follow_up", turns=["first", "q c"], doc_id="d1", expect=["next"]),
        NOT_ASKED,
        question("v", kind="unanswerable_on_topic", split="report", answerable=False, doc_id="d1"),
    ]
    replies = {
        "q a": answer(("d1", "the phrase")),
        "q b": answer(),
        "q c": answer(("d1", "other"), ("d1", "next one")),
        "q u": answer(),
        "q v": answer(("d1", "made up")),
    }
    asked: list[tuple[str, tuple[str, ...]]] = []

    def ask_turn(text: str, history: Sequence[str]) -> Answer:
        asked.append((text, tuple(history)))
        return replies[text]

    results = run(questions, ask_turn)
    assert asked[2] == ("q c", ("first",))
    assert [r.outcome for r in results] == [
        "top1",
        "wrong_refusal",
        "top3",
        "refused",
        "wrong_answer",
    ]
    report = summarise(results)
    overall = report.splits["all"]
    assert (overall.questions, overall.answerable, overall.unanswerable) == (5, 3, 2)
    assert overall.wrong_refusal == pytest.approx(1 / 3)
    assert overall.top1 == pytest.approx(1 / 3)
    assert overall.top3 == pytest.approx(2 / 3)
    assert overall.wrong_citation == 0.0
    assert overall.wrong_answer == 0.5
    tune = report.splits["tune"]
    assert (tune.questions, tune.top1, tune.top3, tune.wrong_answer) == (3, 0.5, 1.0, 0.0)
    assert report.splits["report"].wrong_refusal == 1.0
    assert report.kinds["tune"]["follow_up"].top1 == 0.0
    assert set(report.kinds["report"]) == {"keyword", "unanswerable_on_topic"}
    assert report.parts == {}
    by_part = summarise(results, "all", {"d1"}).parts
    assert set(by_part["all"]) == {"seed"}
    assert by_part["all"]["seed"].questions == 4  # all but the off-topic one
    assert summarise(results, "all", set()).parts["all"]["corpus"].answerable == 3
    listed = failures(results).splitlines()
    assert [line.split(" | ")[0] for line in listed[2:]] == ["| b", "| c", "| v"]
    assert listed[4] == "| v | report | unanswerable_on_topic | wrong_answer | q v | d1: made up |"
    only_report = summarise(results, "report")
    assert list(only_report.splits) == ["report"]
    assert [r.id for r in only_report.results] == ["b", "v"]


def test_the_staff_set_is_balanced_and_verbatim() -> None:
    questions = load_questions(SET)
    assert len(questions) >= 200
    assert sum(not q.answerable for q in questions) >= 60
    assert {q.kind for q in questions} == set(KINDS)
    # The split alternates within each kind, in file order: tune, report, tune, ...
    seen: Counter[str] = Counter()
    for q in questions:
        assert q.split == ("tune" if seen[q.kind] % 2 == 0 else "report"), q.id
        seen[q.kind] += 1
    collection = load_collection(COLLECTION)
    assert len(collection.corpus_ids) == 20
    texts = {SEED_DOC_ID: (ROOT / "seeds" / SEED_DOC_ID).read_text(encoding="utf-8")}
    corpus = SHARED / "corpora" / collection.corpus
    if corpus.exists():
        # (read_jsonl: str.splitlines would also split at the U+2028 inside some speeches)
        for record in read_jsonl(corpus):
            if record["_id"] in collection.corpus_ids:
                texts[record["_id"]] = record["text"]
        checked = questions
    else:  # the speeches' phrases are checked where ../shared/corpora is
        # (the other documents that also answer a seed question are speeches: not checked here)
        checked = [
            replace(q, also=tuple(a for a in q.also if a[0] == SEED_DOC_ID))
            for q in questions
            if q.doc_id in (None, SEED_DOC_ID)
        ]
    assert check_expectations(checked, texts) == []


def test_cli_runs_a_small_set_on_its_own_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    speech = "Our islands face rising seas. We ask for climate finance to adapt."
    corpus = tmp_path / "speeches.jsonl"
    corpus.write_text(
        json.dumps({"_id": "TUV_1", "title": "Tuvalu", "text": speech})
        + "\n"
        + json.dumps({"_id": "XXX_1", "title": "unused", "text": "Not indexed."})
        + "\n"
    )
    seed = (ROOT / "seeds" / SEED_DOC_ID).resolve()
    collection = tmp_path / "staff_collection.json"
    collection.write_text(
        json.dumps({"seed_files": [str(seed)], "corpus": "speeches.jsonl", "corpus_ids": ["TUV_1"]})
    )
    records = [
        {
            "id": "k",
            "split": "tune",
            "kind": "keyword",
            "question": "double standards",
            "answerable": True,
            "doc_id": SEED_DOC_ID,
            "expect": ["double standards"],
        },
        {
            "id": "s",
            "split": "report",
            "kind": "speaker_topic",
            "question": "What did Tuvalu say about climate finance?",
            "answerable": True,
            "doc_id": "TUV_1",
            "expect": ["climate finance"],
        },
        {
            "id": "o",
            "split": "tune",
            "kind": "unanswerable_off_topic",
            "question": "How do I bake sourdough bread?",
            "answerable": False,
        },
    ]
    questions = tmp_path / "set.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "report.json"
    index_dir = tmp_path / "index"
    args = ["eval-staff", str(questions), "--corpus", str(corpus), "--index-dir", str(index_dir)]
    args.append("--failures")
    result = CliRunner().invoke(app, [*args, "--collection", str(collection), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "**tune** (2 questions)" in result.stdout
    assert "| (seed documents) | 1 | 1 |" in result.stdout
    body = json.loads(out.read_text())
    assert set(body["splits"]) == {"tune", "report", "all"}
    assert body["splits"]["all"]["answerable"] == 2
    outcomes = {r["id"]: r["outcome"] for r in body["results"]}
    assert outcomes["k"] == "top1" and outcomes["s"] == "top1"
    # A reused index folder holds exactly the collection: no seed re-embedded, none left over.
    again = CliRunner().invoke(app, [*args, "--collection", str(collection), "--split", "report"])
    assert again.exit_code == 0, again.output
    assert "**tune**" not in again.stdout and "**report** (1 questions)" in again.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**records[1], "expect": ["not in the speech"]}) + "\n")
    failed = CliRunner().invoke(
        app, ["eval-staff", str(bad), "--corpus", str(corpus), "--collection", str(collection)]
    )
    assert failed.exit_code == 2
    assert "'not in the speech' is not in TUV_1" in failed.output
