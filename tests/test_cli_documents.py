"""`qa index --prune`, `qa rm` and `qa docs`, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from index.embedding import Embedder

runner = CliRunner()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("api.wiring.load_embedder", lambda settings, **_: embedder)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha notes.\n\nThe alpha river is long.\n")
    (docs / "b.html").write_text("<title>Beta</title><p>The beta lake is deep.</p>")
    return docs


@pytest.mark.parametrize("command", [["rm"], ["docs"]])
def test_commands_have_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_index_prune_rm_and_docs(folder: Path) -> None:
    first = runner.invoke(app, ["index", str(folder)])
    assert first.stdout.startswith("2 added, 0 updated, 0 unchanged, 0 removed; 2 chunks")
    listed = runner.invoke(app, ["docs"])
    assert listed.output.splitlines() == [
        "a.txt\t1 chunks\t39 chars\tAlpha notes.",
        "b.html\t1 chunks\t22 chars\tBeta",
    ]

    (folder / "a.txt").unlink()
    kept = runner.invoke(app, ["index", str(folder)])
    assert kept.stdout.startswith("0 added, 0 updated, 1 unchanged, 0 removed; 0 chunks")
    pruned = runner.invoke(app, ["index", "--prune", str(folder)])
    assert pruned.stdout.startswith("0 added, 0 updated, 1 unchanged, 1 removed; 0 chunks")
    as_json = runner.invoke(app, ["docs", "--json"])
    assert [json.loads(line)["doc_id"] for line in as_json.output.splitlines()] == ["b.html"]

    removed = runner.invoke(app, ["rm", "b.html"])
    assert removed.exit_code == 0
    assert removed.output == "removed b.html (1 chunks)\n"
    assert runner.invoke(app, ["docs"]).output == ""
    missing = runner.invoke(app, ["rm", "b.html"])
    assert missing.exit_code == 2
    assert "no document with doc_id 'b.html'" in missing.output


def test_a_bad_file_is_skipped_and_nothing_is_pruned(folder: Path) -> None:
    runner.invoke(app, ["index", str(folder)])
    (folder / "a.txt").unlink()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 junk")
    (folder / "c.md").write_text("# Gamma\n\nThe gamma hill is high.\n")
    result = runner.invoke(app, ["index", "--prune", str(folder)])
    assert result.exit_code == 1
    assert "skipped: broken.pdf: not a readable PDF" in result.stderr
    assert "nothing pruned" in result.stderr
    assert result.stdout.startswith("1 added, 0 updated, 1 unchanged, 0 removed; 1 chunks")
    listed = runner.invoke(app, ["docs"]).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["a.txt", "b.html", "c.md"]
