"""Shared fixtures: the real packaged model, loaded once, and indexes in temporary folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from index.embedding import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC_ID = "zhang-jun-organized-crime-statement.txt"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The packaged MiniLM model, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a service on the seeds, with its index in a temporary folder."""
    return Settings(data_dir=tmp_path / "data", seed_paths=[SEEDS], background_load=False)


@pytest.fixture(scope="session")
def seed_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app on the seed index, shared by read-only HTTP tests."""
    data = tmp_path_factory.mktemp("seed-data")
    app = create_app(Settings(data_dir=data, seed_paths=[SEEDS], background_load=False))
    with TestClient(app) as client:
        yield client


def seed_questions() -> list[dict[str, object]]:
    """The seed question set from ../shared/eval."""
    path = SHARED / "eval" / "seed_qa.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
