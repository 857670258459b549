"""Evaluation metrics and the BEIR reader, exact on small cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.evaluation import (
    EvalReport,
    by_language,
    contains_answer,
    load_queries,
    markdown_table,
    mrr_at,
    ndcg_at,
    percentile,
    recall_at,
)


def test_ranking_metrics() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], relevant, 10) == 1.0
    assert ndcg_at(["c", "a"], relevant, 10) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert recall_at(["c", "a"], relevant, 1) == 0.0
    assert recall_at(["c", "a"], relevant, 5) == 0.5
    assert mrr_at(["c", "x", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at(["c"], relevant, 10) == 0.0


def test_answer_matching_ignores_case_and_spacing() -> None:
    assert contains_answer("In the 10th  and 11th centuries.", ["10th and 11th Centuries"])
    assert not contains_answer("In France.", ["Normandy", " "])


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([], 95) == 0.0


def test_load_queries_reads_beir_with_impossible_questions(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    lines = [
        {"_id": "q1", "text": "Where?", "answers": ["Here"], "metadata": {"split": "dev"}},
        {"_id": "q2", "text": "Why?", "is_impossible": True, "metadata": {"split": "dev"}},
        {"_id": "q3", "text": "Unjudged?", "metadata": {"split": "train"}},
    ]
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    queries = load_queries(tmp_path)
    assert [(q.id, q.relevant, q.answers, q.is_impossible) for q in queries] == [
        ("q1", {"d1": 1}, ("Here",), None),
        ("q2", {}, (), True),
    ]
    assert load_queries(tmp_path, split="train") == []


def test_markdown_table() -> None:
    report = EvalReport("set", 2, {"ndcg@10": 0.5, "ask_p50_ms": 12.34})
    assert markdown_table([report]) == (
        "| metric | set |\n|---|---|\n| queries | 2 |\n| ndcg@10 | 0.500 |\n| ask_p50_ms | 12.3 |"
    )


def test_figures_are_reported_per_question_language(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td1\t1\n"
    (tmp_path / "qrels" / "test.tsv").write_text(qrels)
    lines = [
        {"_id": f"q{n}", "text": text, "answers": ["x"], "metadata": {"question_language": lang}}
        for n, text, lang in ((1, "中国反对什么？", "zh"), (2, "What?", "en"))
    ]
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in lines))
    queries = load_queries(tmp_path)
    assert [q.language for q in queries] == ["zh", "en"]
    rows = [(queries[0], 1.0, True, True), (queries[1], 0.5, False, True)]
    assert by_language(rows) == {
        "en": {"queries": 1.0, "mrr@10": 0.5, "answer_in_top1": 0.0, "answer_in_top3": 1.0},
        "zh": {"queries": 1.0, "mrr@10": 1.0, "answer_in_top1": 1.0, "answer_in_top3": 1.0},
    }
