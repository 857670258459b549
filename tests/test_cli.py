"""The `qa` command line, run in-process with the real model."""

from __future__ import annotations

import json
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
    assert first.output.startswith("1 added, 0 updated, 0 unchanged, 0 removed; 4 chunks")
    again = runner.invoke(app, ["index"])
    assert again.output.startswith("0 added, 0 updated, 1 unchanged, 0 removed; 0 chunks")

    result = runner.invoke(app, ["ask", "--json", "What does China firmly implement?"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["answered"] is True
    assert "all relevant UN anti-terrorism resolutions" in body["citations"][0]["text"]

    plain = runner.invoke(app, ["ask", "What does China firmly implement?"])
    assert "[1] zhang-jun-organized-crime-statement.txt [" in plain.output


def test_missing_path_is_a_clear_error(env: Path) -> None:
    result = runner.invoke(app, ["index", str(env / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_empty_question_is_a_clear_error(env: Path) -> None:
    result = runner.invoke(app, ["ask", "  "])
    assert result.exit_code == 2
    assert "question must not be empty" in result.output
