"""The composition root: the same service from the same settings, for the app and every command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import (
    NEW_INDEX_QUANTIZATION,
    load_generator,
    load_service,
    model_runtime,
    model_runtime_and_quantization,
    open_store,
)
from index.errors import IndexMismatch
from tests.conftest import SEED_DOC_ID, SEEDS
from tests.embedders import WordHashEmbedder


class RuntimeHashEmbedder(WordHashEmbedder):
    """The fake model, saying it runs on the runtime and quantisation the settings choose."""

    def __init__(self, runtime: str, quantization: str) -> None:
        super().__init__()
        self.runtime, self.quantization = runtime, quantization

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runtime": self.runtime, "quantization": self.quantization}


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "api.wiring.load_embedder",
        lambda settings, index_dir=None, **_: RuntimeHashEmbedder(
            *model_runtime_and_quantization(settings, index_dir)
        ),
    )


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


def test_a_new_index_gets_onnx_and_an_existing_one_keeps_its_runtime(settings: Settings) -> None:
    assert model_runtime(settings) == "onnx"
    torch = settings.model_copy(update={"embed_runtime": "torch"})
    assert model_runtime(torch) == "torch"
    load_service(torch)  # indexes the seeds with the torch runtime
    assert model_runtime(settings) == "torch"
    assert load_service(settings).status().documents == 1


def test_an_index_is_refused_on_another_runtime(settings: Settings) -> None:
    load_service(settings)
    torch = settings.model_copy(update={"embed_runtime": "torch"})
    with pytest.raises(IndexMismatch, match=r"runtime 'onnx'.*QA_EMBED_RUNTIME=onnx"):
        load_service(torch)


def test_an_index_older_than_runtimes_is_a_torch_index(settings: Settings) -> None:
    service = load_service(settings.model_copy(update={"embed_runtime": "torch"}))
    manifest = service.store.read_manifest()
    assert manifest is not None
    manifest.model.pop("runtime")
    manifest.version += 1
    service.store.publish(manifest)
    assert model_runtime(settings) == "torch"


def test_a_new_onnx_index_gets_the_default_and_an_existing_one_keeps_its_own(
    settings: Settings,
) -> None:
    assert model_runtime_and_quantization(settings) == ("onnx", NEW_INDEX_QUANTIZATION)
    other = "int8" if NEW_INDEX_QUANTIZATION == "none" else "none"
    load_service(settings.model_copy(update={"embed_quantization": other}))
    assert model_runtime_and_quantization(settings) == ("onnx", other)
    assert load_service(settings).status().documents == 1
    default = settings.model_copy(update={"embed_quantization": NEW_INDEX_QUANTIZATION})
    with pytest.raises(IndexMismatch, match=rf"quantization {other}.*QUANTIZATION={other}"):
        load_service(default)


def test_torch_is_never_quantised_and_a_move_to_onnx_gets_the_default(settings: Settings) -> None:
    torch = settings.model_copy(update={"embed_runtime": "torch", "embed_quantization": "int8"})
    assert model_runtime_and_quantization(torch) == ("torch", "none")
    load_service(torch)
    assert model_runtime_and_quantization(settings) == ("torch", "none")
    onnx = settings.model_copy(update={"embed_runtime": "onnx"})  # `qa index --rebuild`
    assert model_runtime_and_quantization(onnx) == ("onnx", NEW_INDEX_QUANTIZATION)
