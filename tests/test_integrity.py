"""A damaged index is refused, never served silently: counts at load, checksums in `qa verify`,
the last whole version served meanwhile, and garbage collection that keeps what CURRENT names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import run
from api.settings import Settings
from index.build import ChunkingConfig, apply_changes
from index.documents import Document
from index.embedding import Embedder
from index.errors import IndexDamaged
from index.snapshot import load_snapshot
from index.store import IndexStore
from index.verify import verify_index
from tests.conftest import SEEDS

CHUNKING = ChunkingConfig()  # what Settings configures by default
ALPHA = " ".join(f"Alpha fact number {n} concerns the river Velm." for n in range(40))
BETA = " ".join(f"Beta fact number {n} concerns the harbour of Ostrava." for n in range(40))


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> IndexStore:
    """Two versions: 1 holds alpha.txt (seg 1), 2 adds beta.txt (seg 2)."""
    store = IndexStore(tmp_path / "data" / "index")
    apply_changes(store, embedder, CHUNKING, upserts=[Document("alpha.txt", ALPHA, "Alpha")])
    apply_changes(store, embedder, CHUNKING, upserts=[Document("beta.txt", BETA, "Beta")])
    return store


def drop_last_lines(path: Path, n: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-n]))


def newest_segment(store: IndexStore) -> Path:
    return sorted(store.segments_dir.glob("seg-*"))[-1]


def test_the_manifest_records_rows_and_checksums(store: IndexStore) -> None:
    manifest = store.read_manifest()
    assert manifest is not None
    record = manifest.segment_records[newest_segment(store).name]
    assert record.rows == manifest.documents["beta.txt"].chunks
    assert record.documents == 1
    assert sorted(record.sha256) == [
        "chunks.jsonl",
        "documents.jsonl",
        "sentence_offsets.npy",
        "sentences.npy",
        "tokens.jsonl",
        "vectors.npy",
    ]


@pytest.mark.parametrize("file", ["chunks.jsonl", "tokens.jsonl"])
def test_a_truncated_file_is_refused_at_load(
    store: IndexStore, embedder: Embedder, file: str
) -> None:
    drop_last_lines(newest_segment(store) / file, 2)
    with pytest.raises(IndexDamaged, match=rf"segment seg-00000002 is damaged.*{file}"):
        load_snapshot(store, embedder.dimensions)


def test_verify_names_the_damage_and_what_can_be_rebuilt(store: IndexStore) -> None:
    segment = newest_segment(store)
    drop_last_lines(segment / "tokens.jsonl", 1)
    vectors = segment / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF  # same size and rows: only the checksum tells
    vectors.write_bytes(bytes(data))
    report = verify_index(store)
    assert not report.ok
    assert report.last_good == "manifest-00000001.json"
    problems = {p.where: p for p in report.versions[0].problems}
    assert problems["seg-00000002/vectors.npy"].problem == "checksum differs"
    assert "embedded again" in problems["seg-00000002/vectors.npy"].repair
    assert "nothing embedded" in problems["seg-00000002/tokens.jsonl"].repair
    assert report.versions[1].ok


def test_verify_passes_a_whole_index(store: IndexStore) -> None:
    report = verify_index(store)
    assert report.ok
    assert [v.name for v in report.versions] == ["manifest-00000002.json", "manifest-00000001.json"]


def test_garbage_collection_keeps_the_version_current_names(store: IndexStore) -> None:
    # CURRENT names an older version than the two newest (e.g. restored by hand).
    (store.root / "CURRENT").write_text("manifest-00000001.json")
    for version in (7, 8):
        text = (store.manifests_dir / "manifest-00000002.json").read_text()
        (store.manifests_dir / f"manifest-{version:08d}.json").write_text(text)
    store.collect_garbage(keep=2)
    assert store.manifest_names() == [
        "manifest-00000001.json",
        "manifest-00000007.json",
        "manifest-00000008.json",
    ]
    assert (store.segments_dir / "seg-00000001").is_dir()


def test_without_current_nothing_is_reindexed_over_the_versions_on_disk(
    store: IndexStore, embedder: Embedder
) -> None:
    (store.root / "CURRENT").unlink()
    with pytest.raises(IndexDamaged, match="CURRENT is missing"):
        apply_changes(store, embedder, CHUNKING, upserts=[Document("c.txt", "Gamma.")])
    assert store.manifest_names() == ["manifest-00000001.json", "manifest-00000002.json"]


def app_client(data: Path, embedder: Embedder, background: bool = False) -> Iterator[TestClient]:
    settings = Settings(data_dir=data, seed_paths=[SEEDS], background_load=background)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("api.wiring.load_embedder", lambda settings, **_: embedder)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client


def test_a_damaged_version_is_refused_and_the_last_whole_one_served(
    store: IndexStore, embedder: Embedder
) -> None:
    drop_last_lines(newest_segment(store) / "chunks.jsonl", 2)
    for client in app_client(store.root.parent, embedder):
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded"
        assert ready["index_version"] == 1
        assert "manifest-00000002.json is damaged" in ready["detail"]
        docs = client.get("/v1/documents").json()["documents"]
        assert [d["doc_id"] for d in docs] == ["alpha.txt"]
        # Writes build on the damaged version: refused with a 503, nothing published.
        added = client.post("/v1/documents", json={"doc_id": "c.txt", "text": "Gamma."})
        assert added.status_code == 503
        assert added.json()["error"]["code"] == "index_damaged"
        assert store.current_name() == "manifest-00000002.json"


def test_without_current_the_seeds_are_not_indexed_and_the_newest_version_served(
    store: IndexStore, embedder: Embedder
) -> None:
    (store.root / "CURRENT").unlink()
    for client in app_client(store.root.parent, embedder):
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["index_version"]) == ("degraded", 2)
    assert store.manifest_names() == ["manifest-00000001.json", "manifest-00000002.json"]


def test_an_unreadable_index_shows_no_path_and_is_a_server_error(
    store: IndexStore, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in store.manifest_names():
        path = store.manifests_dir / name
        path.write_text(path.read_text()[:50])
    for client in app_client(store.root.parent, embedder, background=True):
        while (ready := client.get("/readyz")).json()["detail"] == "loading":
            time.sleep(0.05)
        assert ready.status_code == 503
        assert ready.json()["detail"] == IndexDamaged.PUBLIC_MESSAGE
        assert str(store.root) not in ready.text
        added = client.post("/v1/documents", json={"doc_id": "c.txt", "text": "Gamma."})
        assert added.status_code == 503
        assert str(store.root) not in added.text


def test_the_cli_says_what_is_damaged_in_one_line(
    store: IndexStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(store.root.parent))
    path = store.manifests_dir / "manifest-00000002.json"
    path.write_text(path.read_text()[:50])
    with pytest.raises(SystemExit) as exit_info:
        run(["docs"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: manifest manifest-00000002.json is unreadable (JSONDecodeError)\n"
    with pytest.raises(SystemExit) as exit_info:
        run(["verify"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "manifest-00000002.json (CURRENT): DAMAGED" in out
    assert "the service serves manifest-00000001.json" in out
    assert json.loads(json.dumps(out))  # plain text, no traceback
    assert "Traceback" not in out
