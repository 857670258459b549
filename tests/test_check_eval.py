"""The fact-checking evaluation on a tiny slice of SciFact, and the `qa eval-check` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from index.build import ChunkingConfig, build_index
from index.embedding import SentenceTransformerEmbedder
from index.snapshot import load_snapshot
from index.store import IndexStore
from qa.answer import Answerer
from qa.check import CheckConfig, FactChecker
from qa.check_eval import (
    CheckReport,
    GoldClaim,
    examine_all,
    halves,
    load_claims,
    markdown,
    score,
    sentence_spans,
    split_of,
    splits,
    supported_precision,
    tune_config,
)
from qa.retrieval import Retriever
from tests.conftest import SHARED

SCIFACT = SHARED / "eval" / "scifact"
CLAIM_IDS = ("2", "4", "9", "10", "11", "12", "22", "28", "32", "34")


@pytest.fixture(scope="module")
def tiny_scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten train claims (3 not found, 5 supported, 2 contradicted) and their cited abstracts."""
    if not SCIFACT.is_dir():
        pytest.skip("../shared/eval/scifact is not available")
    folder = tmp_path_factory.mktemp("tiny-scifact")
    claims = [
        json.loads(line)
        for line in (SCIFACT / "claims_with_rationales.jsonl").read_text().splitlines()
        if line and json.loads(line)["id"] in CLAIM_IDS
    ]
    cited = {doc for c in claims for doc in c["cited"]}
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as lines:
        corpus = [line for line in lines if json.loads(line)["_id"] in cited]
    (folder / "claims_with_rationales.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8"
    )
    (folder / "corpus.jsonl").write_text("".join(corpus), encoding="utf-8")
    return folder


def test_sentence_spans_index_the_joined_text() -> None:
    sentences = ["One two.", "Three.", "Four five six."]
    text = " ".join(sentences)
    assert [text[s:e] for s, e in sentence_spans(sentences)] == sentences


def test_load_claims_maps_labels_and_rationale_offsets(tiny_scifact: Path) -> None:
    claims = load_claims(tiny_scifact)
    assert [c.claim_id for c in claims] == list(CLAIM_IDS)
    by_id = {c.claim_id: c for c in claims}
    assert by_id["2"].verdict == "contradicted"
    assert by_id["9"].verdict == "supported"
    assert by_id["4"].verdict == "not_found"
    assert by_id["4"].rationales == ()
    corpus = {
        json.loads(line)["_id"]: json.loads(line)
        for line in (tiny_scifact / "corpus.jsonl").read_text().splitlines()
    }
    doc_id, start, end = by_id["9"].rationales[0]
    assert corpus[doc_id]["text"][start:end] == corpus[doc_id]["sentences"][15]


def test_halves_split_by_claim_id_parity() -> None:
    golds = [GoldClaim(str(i), "c", "not_found", ()) for i in (2, 3, 4, 9)]
    assert halves(golds) == ([0, 2], [1, 3])


def test_splits_train_on_ids_0_mod_4_tune_on_2_mod_4_report_odd() -> None:
    golds = [GoldClaim(str(i), "c", "not_found", ()) for i in (2, 3, 4, 9, 8, 6)]
    assert [split_of(g.claim_id) for g in golds] == [
        "tune", "report", "train", "report", "train", "tune"
    ]  # fmt: skip
    assert splits(golds) == {"train": [2, 4], "tune": [0, 5], "report": [1, 3]}


def test_scores_on_a_tiny_slice(tiny_scifact: Path, embedder: SentenceTransformerEmbedder) -> None:
    store = IndexStore(tiny_scifact / "index")
    build_index([tiny_scifact / "corpus.jsonl"], store, embedder, ChunkingConfig(1000, 200))
    snapshot = load_snapshot(store, embedder.dimensions)
    checker = FactChecker(Answerer(embedder, Retriever(embedder)))
    golds = load_claims(tiny_scifact)
    examined = examine_all(checker, snapshot, golds)
    report = score(golds, examined, checker.config)
    assert report.claims == 10
    assert report.with_evidence == 7
    assert sum(sum(row.values()) for row in report.confusion.values()) == 10
    assert report.evidence_recall_at_3 == pytest.approx(6 / 7)
    correct = sum(report.confusion[v][v] for v in report.confusion)
    assert report.accuracy == pytest.approx(correct / 10)
    table = markdown({"all": report})
    assert table.splitlines()[2].startswith("| all | 10 | 7 | 0.857 |")
    assert "| gold \\ predicted | supported | contradicted | not_found |" in table
    # Tuning over a grid that holds the defaults can only match or beat them (precision of
    # "supported" up to 0.8 first, then accuracy).
    defaults = CheckConfig()
    grid = {"supported_at": (defaults.supported_at, 0.5), "contradicted_at": (0.6, 0.9)}
    tuned = score(golds, examined, tune_config(golds, examined, defaults, grid))

    def key(r: CheckReport) -> tuple[float, float]:
        return (min(supported_precision(r), 0.8), r.accuracy)

    assert key(tuned) >= key(report)


def test_eval_check_command_prints_a_table(
    tiny_scifact: Path,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command loads the configured model; the session's copy is the same one, already loaded.
    monkeypatch.setattr("api.wiring.load_embedder", lambda settings, **_: embedder)
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        app, ["eval-check", str(tiny_scifact), "--limit", "4", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "| all | 4 | 2 |" in result.output
    assert json.loads(out.read_text())["all"]["claims"] == 4


def test_eval_check_command_refuses_a_folder_without_the_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval-check", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs corpus.jsonl and claims_with_rationales.jsonl" in result.output
