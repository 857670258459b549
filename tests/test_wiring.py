"""The composition root: the same service from the same settings, for the app and every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from api.settings import Settings
from api.wiring import load_generator, load_service, open_store
from tests.conftest import SEED_DOC_ID, SEEDS
from tests.embedders import WordHashEmbedder


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.wiring.load_embedder", lambda settings, **_: WordHashEmbedder())


def test_the_service_indexes_the_seeds_into_an_empty_index(settings: Settings) -> None:
    service = load_service(settings)
    assert service.status().documents == 1
    assert [d.doc_id for d in service.documents()] == [SEED_DOC_ID]
    assert load_generator(settings, service) is None


def test_a_writing_command_neither_indexes_the_seeds_nor_reads_the_index(
    settings: Settings,
) -> None:
    service = load_service(settings, load_index=False, index_seeds=False)
    assert not open_store(settings).exists()
    service.index_paths([SEEDS / SEED_DOC_ID])
    manifest = open_store(settings).read_manifest()
    assert manifest is not None
    assert list(manifest.documents) == [SEED_DOC_ID]


def test_settings_reach_the_service(settings: Settings) -> None:
    tuned = settings.model_copy(update={"sentence_vectors": True, "segment_chunks": 7})
    service = load_service(tuned, index_dir=settings.data_dir / "elsewhere")
    assert service.store.root == settings.data_dir / "elsewhere"
    assert (service.sentence_vectors, service.segment_chunks) == (True, 7)
    assert open_store(tuned).exists() is False


def test_the_default_install_imports_no_ray() -> None:
    # Only `qa index --distributed` imports Ray (index.distributed, the `cluster` extra).
    code = "import sys, api.app, api.cli, api.wiring; print('ray' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "False"
