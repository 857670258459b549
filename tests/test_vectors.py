"""Exact and approximate vector search, and the size at which the index switches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import index.vectors as vectors_module
from index.build import ChunkingConfig, build_index
from index.embedding import SentenceTransformerEmbedder
from index.manifest import Manifest
from index.snapshot import load_snapshot
from index.store import IndexStore
from index.vectors import VectorIndex, VectorIndexSpec, choose_spec
from tests.conftest import SEEDS


def clustered(count: int, dims: int = 32, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres, like text embeddings on a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dims)).astype(np.float32)
    points = centres[rng.integers(0, clusters, count)] + 0.4 * rng.standard_normal(
        (count, dims), dtype=np.float32
    )
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_choose_spec_is_exact_up_to_the_threshold_then_ivf_sq8() -> None:
    assert choose_spec(300_000) == VectorIndexSpec()
    assert choose_spec(1_000_000) == VectorIndexSpec("ivf_sq8", nlist=1000, nprobe=500)
    assert choose_spec(360_000).as_dict() == {"kind": "ivf_sq8", "nlist": 600, "nprobe": 300}


def test_spec_round_trips_and_missing_means_exact() -> None:
    spec = VectorIndexSpec("ivf", nlist=400, nprobe=50)
    assert VectorIndexSpec.from_dict(spec.as_dict()) == spec
    assert VectorIndexSpec.from_dict({}) == VectorIndexSpec()
    assert VectorIndexSpec.from_dict(None).kind == "flat"


@pytest.mark.parametrize("kind", ["ivf", "ivf_sq8"])
def test_ivf_finds_what_exact_search_finds(kind: str) -> None:
    data = clustered(8000)
    queries = clustered(100, seed=1)
    exact = VectorIndex.build(32, data)
    ivf = VectorIndex.build(32, data, VectorIndexSpec(kind, nlist=40, nprobe=12))
    assert ivf.describe() == {"kind": kind, "nlist": 40, "nprobe": 12, "vectors": 8000}
    truth_scores, truth = exact.search(queries, 10)
    scores, found = ivf.search(queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95
    # Both kinds return exact inner products (sq8 re-scores its shortlist with the vectors).
    same = found[:, 0] == truth[:, 0]
    np.testing.assert_allclose(scores[same, 0], truth_scores[same, 0], atol=1e-5)
    np.testing.assert_allclose(ivf.reconstruct(np.array([5])), data[5:6], atol=1e-6)
    ivf.add(data[:3])
    assert len(ivf) == 8003
    np.testing.assert_allclose(ivf.reconstruct(np.array([8001])), data[1:2], atol=1e-6)


def test_ivf_with_too_few_vectors_to_train_searches_exactly() -> None:
    data = clustered(100)
    index = VectorIndex.build(32, data, VectorIndexSpec("ivf", nlist=40, nprobe=8))
    assert index.spec.kind == "flat"
    _, rows = index.search(data[7], 1)
    assert rows[0][0] == 7


def test_the_manifest_records_the_kind_of_index(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([SEEDS], store, embedder, ChunkingConfig())
    manifest = store.read_manifest()
    assert manifest is not None and manifest.vector_index == {"kind": "flat"}

    monkeypatch.setattr(vectors_module, "EXACT_UP_TO", 2)
    build_index([SEEDS], store, embedder, ChunkingConfig(), rebuild=True)
    name = store.current_name()
    assert name is not None
    on_disk = json.loads((store.manifests_dir / name).read_text(encoding="utf-8"))
    assert on_disk["vector_index"] == {"kind": "ivf_sq8", "nlist": 2, "nprobe": 2}
    # Four chunks cannot train two lists of forty: the reader falls back to exact search.
    snapshot = load_snapshot(store, embedder.dimensions)
    assert snapshot.vectors.describe() == {"kind": "flat", "vectors": 4}


def test_manifests_without_the_field_read_as_exact() -> None:
    data = Manifest(version=1, model={}, chunking={}).to_json()
    del data["vector_index"]
    assert Manifest.from_json(data).vector_index == {}
