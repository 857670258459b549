"""`qa check`: verdicts as lines or as the API's JSON body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from index.embedding import SentenceTransformerEmbedder
from tests.conftest import SEED_DOC_ID, SEEDS


@pytest.fixture
def seed_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder
) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_SEED_PATHS", str(SEEDS))
    # The configured model is the session's, already loaded.
    monkeypatch.setattr("api.wiring.load_embedder", lambda settings, **_: embedder)


@pytest.mark.usefixtures("seed_env")
def test_check_prints_json_like_the_api() -> None:
    result = CliRunner().invoke(
        app, ["check", "China supports INTERPOL. Zhang Jun called for sanctions.", "--json"]
    )
    assert result.exit_code == 0, result.output
    claims = json.loads(result.output)["claims"]
    assert [c["verdict"] for c in claims] == ["supported", "not_found"]
    assert claims[0]["evidence"][0]["doc_id"] == SEED_DOC_ID


@pytest.mark.usefixtures("seed_env")
def test_check_prints_a_line_per_claim() -> None:
    result = CliRunner().invoke(app, ["check", "We must support double standards."])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("CONTRADICTED")
    assert lines[0].endswith("We must support double standards.")
    assert lines[1].startswith("    why: ")
    assert lines[2].startswith(f"    [1] {SEED_DOC_ID} [")
    assert lines[2].endswith("We must oppose double standards and politicization.")


def test_check_refuses_empty_text() -> None:
    result = CliRunner().invoke(app, ["check", "  "])
    assert result.exit_code == 2
    assert "text must not be empty" in result.output


@pytest.mark.usefixtures("seed_env")
def test_check_reads_the_draft_from_standard_input_and_says_why() -> None:
    draft = "China has always been on the side of unilateralism.\nChina supports INTERPOL.\n"
    result = CliRunner().invoke(app, ["check", "-", "--json"], input=draft)
    assert result.exit_code == 0, result.output
    claims = json.loads(result.output)["claims"]
    assert [c["verdict"] for c in claims] == ["contradicted", "supported"]
    assert claims[0]["reason"] == "the evidence says 'multilateralism', the claim 'unilateralism'"


@pytest.mark.usefixtures("seed_env")
def test_check_reads_the_draft_from_a_file(tmp_path: Path) -> None:
    draft = tmp_path / "draft.txt"
    draft.write_text("We must support double standards.", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--file", str(draft)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("CONTRADICTED")
    assert lines[1] == "    why: the evidence says 'oppose', the claim 'support'"


def test_check_wants_text_or_a_file_not_both(tmp_path: Path) -> None:
    draft = tmp_path / "draft.txt"
    draft.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "text", "--file", str(draft)])
    assert result.exit_code == 2
    assert "one of them" in result.output
    assert CliRunner().invoke(app, ["check"]).exit_code == 2
