"""Indexing on a Ray cluster (two simulated nodes): the index one process writes, incrementally."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from api.cli import app  # noqa: E402
from index.build import ChunkingConfig, build_index  # noqa: E402
from index.distributed import (  # noqa: E402
    ClusterConfig,
    ModelConfig,
    PrecomputedEmbedder,
    build_index_distributed,
)
from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from index.shards import read_sharded, shard_folder  # noqa: E402
from index.store import IndexStore  # noqa: E402
from tests.conftest import SEED_DOC_ID, SEEDS  # noqa: E402
from tests.embedders import WordHashEmbedder  # noqa: E402

CHUNKING = ChunkingConfig()
MODEL = ModelConfig(DEFAULT_MODEL)
# One actor on each 1-CPU node (Ray Data spreads them).
CLUSTER = ClusterConfig(actors=2)
# Small segments, so that a run publishes several versions on the way.
SEGMENT_CHUNKS = 4


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Five text files of four chunks each and a JSONL file of two documents of two."""
    text = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
    sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n in range(5):
        rotated = sentences[3 * n :] + sentences[: 3 * n]
        (folder / f"part-{n}.txt").write_text(" ".join(rotated), encoding="utf-8")
    records = [
        {"_id": f"record-{n}", "title": f"Record {n}", "text": " ".join(sentences[n::2])}
        for n in range(2)
    ]
    (folder / "records.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    return folder


def _segment_files(store: IndexStore) -> dict[str, dict[str, bytes | np.ndarray]]:
    manifest = store.read_manifest()
    assert manifest is not None
    files: dict[str, dict[str, bytes | np.ndarray]] = {}
    for name in manifest.segments:
        folder = store.segments_dir / name
        files[name] = {f: (folder / f).read_bytes() for f in ("chunks.jsonl", "tokens.jsonl")}
        files[name]["documents.jsonl"] = (folder / "documents.jsonl").read_bytes()
        files[name]["vectors"] = np.load(folder / "vectors.npy")
    return files


def test_the_cluster_writes_the_index_one_process_writes(
    two_nodes: Cluster, corpus: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    assert len([node for node in ray.nodes() if node["Alive"]]) == 2
    alone = IndexStore(tmp_path / "alone")
    spread = IndexStore(tmp_path / "spread")
    expected = build_index([corpus], alone, embedder, CHUNKING, segment_chunks=SEGMENT_CHUNKS)
    report = build_index_distributed(
        [corpus], spread, MODEL, CHUNKING, CLUSTER, segment_chunks=SEGMENT_CHUNKS
    )
    assert report == expected
    assert len(report.added) == 7 and report.version > 2
    one, other = alone.read_manifest(), spread.read_manifest()
    assert one is not None and other is not None
    assert other.to_json()["documents"] == one.to_json()["documents"]
    assert (other.model, other.segments) == (one.model, one.segments)
    for name, files in _segment_files(alone).items():
        theirs = _segment_files(spread)[name]
        for file in ("chunks.jsonl", "tokens.jsonl", "documents.jsonl"):
            assert theirs[file] == files[file], (name, file)
        np.testing.assert_allclose(theirs["vectors"], files["vectors"], atol=1e-5)


def test_the_cluster_writes_the_shards_one_process_writes(
    two_nodes: Cluster, corpus: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    alone = IndexStore(tmp_path / "alone")
    spread = IndexStore(tmp_path / "spread")
    expected = build_index(
        [corpus], alone, embedder, CHUNKING, segment_chunks=SEGMENT_CHUNKS, shards=2
    )
    report = build_index_distributed(
        [corpus], spread, MODEL, CHUNKING, CLUSTER, segment_chunks=SEGMENT_CHUNKS, shards=2
    )
    assert report == expected
    one, other = read_sharded(alone), read_sharded(spread)
    assert one is not None and other is not None
    assert (other.shards, other.statistics) == (2, one.statistics)
    for k in range(2):
        mine = IndexStore(shard_folder(alone.root, k))
        theirs = IndexStore(shard_folder(spread.root, k))
        assert _segment_files(mine).keys() == _segment_files(theirs).keys()
        for name, files in _segment_files(mine).items():
            for file in ("chunks.jsonl", "tokens.jsonl", "documents.jsonl"):
                assert _segment_files(theirs)[name][file] == files[file], (k, name, file)
    again = build_index_distributed([corpus], spread, MODEL, CHUNKING, CLUSTER)
    assert again.chunks_embedded == 0 and len(again.unchanged) == 7


class Interrupted(Exception):
    """Stands for a ^C or a lost driver part-way through a run."""


class StopAfter:
    """Progress that interrupts the run on its n-th update (one per embedded document)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def update(self, n: int = 1) -> None:
        self.left -= 1
        if self.left == 0:
            raise Interrupted


def test_a_rerun_after_an_interruption_embeds_and_publishes_each_document_once(
    two_nodes: Cluster, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "data" / "index")
    with pytest.raises(Interrupted):
        build_index_distributed(
            [corpus],
            store,
            MODEL,
            CHUNKING,
            CLUSTER,
            segment_chunks=SEGMENT_CHUNKS,
            progress=StopAfter(4),
        )
    published = store.read_manifest()
    assert published is not None
    kept = sorted(published.documents)
    assert 0 < len(kept) < 7
    changed = corpus / "part-0.txt"
    assert changed.name in kept
    changed.write_text(changed.read_text(encoding="utf-8") + " A sentence added.", "utf-8")

    # The rerun goes through `qa index --distributed`, on the cluster this process joined.
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_SEGMENT_CHUNKS", str(SEGMENT_CHUNKS))
    result = CliRunner().invoke(app, ["index", str(corpus), "--distributed", "--actors", "2"])
    assert result.exit_code == 0, result.output
    total = sum(e.chunks for e in store.read_manifest().documents.values())  # type: ignore[union-attr]
    rest = total - sum(published.documents[d].chunks for d in kept if d != changed.name)
    assert result.stdout.startswith(
        f"{7 - len(kept)} added, 1 updated, {len(kept) - 1} unchanged, 0 removed; "
        f"{rest} chunks and "  # and the sentences of those chunks, stored by a new index
    )
    manifest = store.read_manifest()
    assert manifest is not None
    listed = [
        json.loads(line)["doc_id"]
        for segment in manifest.segments
        for line in (store.segments_dir / segment / "documents.jsonl").read_text().splitlines()
        if manifest.documents[json.loads(line)["doc_id"]].segment == segment
    ]
    assert sorted(listed) == sorted(manifest.documents) and len(manifest.documents) == 7


def test_vectors_are_served_by_text_and_only_missing_ones_are_embedded_here() -> None:
    local = WordHashEmbedder()
    calls: list[list[str]] = []

    class Recording(WordHashEmbedder):
        def embed_batch(self, texts):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return local.embed_batch(texts)

    precomputed = PrecomputedEmbedder(Recording)
    supplied = local.embed_batch(["alpha", "beta", "alpha"])
    precomputed.supply(["alpha", "beta", "alpha"], supplied)
    vectors = precomputed.embed_batch(["beta", "alpha", "gamma", "alpha", "alpha"])
    # "alpha" was supplied twice: its third lookup, like "gamma", is embedded here.
    assert calls == [["gamma", "alpha"]]
    np.testing.assert_array_equal(
        vectors, local.embed_batch(["beta", "alpha", "gamma"] + 2 * ["alpha"])
    )


def test_actors_load_the_runtime_the_index_is_built_with(tmp_path: Path) -> None:
    onnx = ModelConfig(DEFAULT_MODEL, runtime="onnx", cache_dir=str(tmp_path / "models")).load()
    torch = MODEL.load()
    texts = ["China supports the central role of the United Nations."]
    assert (onnx.describe()["runtime"], torch.describe()["runtime"]) == ("onnx", "torch")
    assert float(onnx.embed_batch(texts)[0] @ torch.embed_batch(texts)[0]) > 0.99999
    with pytest.raises(ValueError, match="cache_dir"):
        ModelConfig(DEFAULT_MODEL, runtime="onnx").load()
