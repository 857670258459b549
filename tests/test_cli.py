"""The `qa` command line, run in-process with the real model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import SEEDS

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_SEED_PATHS", str(SEEDS))
    return tmp_path


@pytest.mark.parametrize("command", [[], ["index"], ["ask"], ["serve"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_index_then_ask(env: Path) -> None:
    first = runner.invoke(app, ["index"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("1 added, 0 updated, 0 unchanged, 0 removed; 4 chunks")
    again = runner.invoke(app, ["index"])
    assert again.output.startswith("0 added, 0 updated, 1 unchanged, 0 removed; 0 chunks")

    result = runner.invoke(app, ["ask", "--json", "What does China firmly implement?"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["answered"] is True
    assert "all relevant UN anti-terrorism resolutions" in body["citations"][0]["text"]

    plain = runner.invoke(app, ["ask", "What does China firmly implement?"])
    assert "[1] zhang-jun-organized-crime-statement.txt [" in plain.output


def test_sentence_vectors_are_filled_in_for_documents_indexed_before(env: Path) -> None:
    runner.invoke(app, ["index", "--no-sentence-vectors"])
    result = runner.invoke(app, ["index", "--sentence-vectors"])
    assert result.exit_code == 0, result.output
    # 20 sentences in 4 chunks; the 2 shared by overlapping chunks are embedded once.
    # (stdout: the progress bar, drawn when embedding takes over a second, goes to stderr.)
    assert result.stdout.startswith(
        "0 added, 0 updated, 1 unchanged, 0 removed; 0 chunks and 18 sentences embedded; "
        "index version 2 in "
    )
    again = runner.invoke(app, ["index"])
    assert again.output.startswith("0 added, 0 updated, 1 unchanged, 0 removed; 0 chunks embedded")


def test_missing_path_is_a_clear_error(env: Path) -> None:
    result = runner.invoke(app, ["index", str(env / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_empty_question_is_a_clear_error(env: Path) -> None:
    result = runner.invoke(app, ["ask", "  "])
    assert result.exit_code == 2
    assert "question must not be empty" in result.output


def test_eval_reports_retrieval_and_answers(env: Path) -> None:
    dataset = env / "tiny"
    (dataset / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Rivers", "text": "The Danube reaches the Black Sea."},
        {"_id": "d2", "title": "Cats", "text": "Cats sleep most of the day."},
    ]
    queries = [
        {"_id": "q1", "text": "Where does the Danube flow to?", "answers": ["Black Sea"]},
        {"_id": "q2", "text": "How long do cats sleep?", "answers": ["most of the day"]},
    ]
    (dataset / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus))
    (dataset / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (dataset / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"
    )
    result = runner.invoke(app, ["eval", str(dataset), "--json", str(env / "report.json")])
    assert result.exit_code == 0, result.output
    assert "| ndcg@10 | 1.000 |" in result.output
    report = json.loads((env / "report.json").read_text())
    assert report["queries"] == 2
    assert report["metrics"]["answer_in_top1"] == 1.0


def test_distributed_indexing_without_ray_says_which_extra_to_install(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the `cluster` extra were absent
    monkeypatch.delitem(sys.modules, "index.distributed", raising=False)
    result = runner.invoke(app, ["index", "--distributed"])
    assert result.exit_code == 2
    assert 'error: --distributed needs Ray: pip install -e ".[cluster]"' in result.output
