"""Sharded indexes (index.shards): written, changed and read as one index of the same documents.

The fake model states exact outcomes of writing; tests/test_shards_service.py asks the real one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from index.build import ChunkingConfig, apply_changes, build_index, keyword_tokens
from index.documents import Document
from index.errors import IndexMismatch
from index.keyword import KeywordIndex, KeywordStatistics
from index.manifest import ShardedManifest
from index.sharded import ShardedKeywords
from index.shards import ShardStore, read_sharded, shard_folder, shard_of
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore
from index.verify import verify_index
from qa.retrieval import Retriever
from tests.embedders import CountingEmbedder, WordHashEmbedder

CHUNKING = ChunkingConfig(chunk_size=300, overlap=60)
TOPICS = ["climate finance", "security council reform", "organized crime", "peace in the region"]


def doc(n: int, extra: str = "") -> Document:
    topic = TOPICS[n % len(TOPICS)]
    text = (
        f"Statement {n} is about {topic}. The delegation {n} speaks of {topic} and of trade. "
        f"Delegation {n} asks the assembly to act on {topic} this year.{extra}"
    )
    return Document(f"d{n:02d}.txt", text * 2, f"Statement {n}")


def write(folder: Path, documents: list[Document]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for d in documents:
        (folder / d.doc_id).write_text(d.text, encoding="utf-8")
    return folder


def load(store: IndexStore) -> IndexSnapshot:
    embedder = WordHashEmbedder()
    return load_snapshot(store, embedder.dimensions, embedder.describe(), CHUNKING.as_dict())


def recount(snapshot: IndexSnapshot) -> KeywordStatistics:
    """The statistics of the snapshot's chunks, counted from their text."""
    return KeywordStatistics.of(
        keyword_tokens(snapshot.documents[c.doc_id].title, snapshot.chunk_text(c))
        for c in snapshot.chunks
    )


def results(snapshot: IndexSnapshot, query: str) -> list[tuple[str, int, int, float]]:
    hits = Retriever(WordHashEmbedder()).search(snapshot, query, 10)
    return [(h.doc_id, h.chunk.start, h.chunk.end, h.score) for h in hits]


def test_shard_of_is_a_stable_hash_of_the_doc_id() -> None:
    # blake2b of the id's bytes: the same on every run, machine and Python (not hash()).
    assert [shard_of(d, 3) for d in ("a", "b", "zhang-jun.txt", "报告.txt")] == [2, 2, 2, 0]
    digest = hashlib.blake2b("报告.txt".encode(), digest_size=8).digest()
    assert shard_of("报告.txt", 7) == int.from_bytes(digest, "big") % 7
    counts = np.bincount([shard_of(f"doc-{n}", 4) for n in range(4000)], minlength=4)
    assert counts.min() > 900


def test_collection_statistics_give_each_shard_the_scores_of_one_index() -> None:
    rows = [keyword_tokens(d.title, d.text) for d in map(doc, range(12))]
    whole = KeywordIndex(rows)
    statistics = KeywordStatistics.of(rows)
    parts = [[r for i, r in enumerate(rows) if i % 3 == k] for k in range(3)]
    shards = [KeywordIndex(p, statistics) for p in parts]
    for query in (["climat", "financ"], ["trade"], ["secur", "council", "council"], ["absent"]):
        scores = whole.scores(query)
        for k, shard in enumerate(shards):
            # Bit for bit: bm25s's own arithmetic, given the collection's statistics.
            assert shard.scores(query).tobytes() == scores[k::3].tobytes()
        assert shards[0].idf(query[0]) == whole.idf(query[0])
    # With each shard's own statistics the same chunk scores differently: the pitfall.
    assert (
        KeywordIndex(parts[0]).scores(["climat"]).tolist() != shards[0].scores(["climat"]).tolist()
    )


def test_sharded_keywords_match_present_and_best_as_one_index() -> None:
    """The calls qa/ makes of BM25 (index.sharded's seam, also a shard actor's): gathered over
    shards they give one index's scores, rows numbered shard after shard."""
    rows = [keyword_tokens(d.title, d.text) for d in map(doc, range(12))]
    whole = KeywordIndex(rows)
    statistics = KeywordStatistics.of(rows)
    sharded = ShardedKeywords(
        [KeywordIndex([r for i, r in enumerate(rows) if i % 3 == k], statistics) for k in range(3)],
        statistics,
    )
    one = np.array([i for k in range(3) for i in range(k, 12, 3)])  # sharded row -> whole row
    asked = np.array([0, 5, 11, 7])
    for allowed in (None, np.array([1, 2, 4, 5, 7, 8, 11, 0])):
        for query in (["climat", "financ"], ["trade", "delegation"], ["absent"]):
            found = sharded.match(query, 12, asked, allowed)
            expected = whole.match(query, 12, one[asked], None if allowed is None else one[allowed])
            assert found.at.tobytes() == expected.at.tobytes()
            assert sorted(
                zip(one[found.rows].tolist(), found.scores.tolist(), strict=True)
            ) == sorted(zip(expected.rows.tolist(), expected.scores.tolist(), strict=True))
            assert found.top == expected.top
            assert sharded.match(query, 2, asked, allowed).scores.tolist() == (
                expected.scores[:2].tolist()
            )
    tokens = ["climat", "secur", "absent", "trade"]
    assert sharded.present(tokens) == whole.present(tokens) == [True, True, False, True]
    few = np.array([0, 1, 4])  # whole rows 0, 3, 1: climate, peace, security
    assert sharded.present(tokens, few) == whole.present(tokens, one[few]) == [
        True, True, False, True
    ]  # fmt: skip
    assert sharded.present(["climat"], np.array([1, 6])) == [False]  # whole rows 3, 7: peace
    for token in ("climat", "organ", "absent"):
        row, score = sharded.best(token)
        assert score == whole.best(token)[1]
        assert row == -1 if score == 0 else whole.scores([token])[one[row]] == score
    assert sharded.best("absent") == (-1, 0.0)


def test_a_sharded_index_searches_as_one_index_of_the_same_documents(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(10)])
    snapshots = {}
    for shards in (1, 2, 3):
        store = IndexStore(tmp_path / f"index-{shards}")
        build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=shards, segment_chunks=5)
        snapshots[shards] = load(store)
    one = snapshots[1]
    assert one.shards == () and read_sharded(IndexStore(tmp_path / "index-1")) is None
    for shards in (2, 3):
        snapshot = snapshots[shards]
        assert len(snapshot.shards) == shards
        assert snapshot.documents.keys() == one.documents.keys()
        assert sorted((c.doc_id, c.start, c.end) for c in snapshot.chunks) == sorted(
            (c.doc_id, c.start, c.end) for c in one.chunks
        )
        for k, part in enumerate(snapshot.shards):
            assert {shard_of(d, shards) for d in part.documents} <= {k}
        assert snapshot.keywords.document_frequency == one.keywords.document_frequency
        for query in ("climate finance", "security council trade", "organized crime", "absent"):
            assert results(snapshot, query) == results(one, query)


def test_one_shard_is_todays_index(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(4)])
    plain, one = IndexStore(tmp_path / "plain"), IndexStore(tmp_path / "one")
    build_index([corpus], plain, WordHashEmbedder(), CHUNKING)
    build_index([corpus], one, WordHashEmbedder(), CHUNKING, shards=1)
    assert not (one.root / "shards").exists()
    names = sorted(p.relative_to(one.root) for p in one.root.rglob("*") if p.name != ".lock")
    assert names == sorted(
        p.relative_to(plain.root) for p in plain.root.rglob("*") if p.name != ".lock"
    )
    current = json.loads((one.manifests_dir / str(one.current_name())).read_text())
    assert current["format"] == 3 and "shards" not in current


def test_each_shard_is_a_complete_index_and_the_top_level_names_them(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(8)])
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    top = read_sharded(store)
    assert isinstance(top, ShardedManifest) and top.shards == 2
    whole = load(store)
    assert top.statistics == recount(whole)
    for k in range(2):
        # Opened as an index of its own: the shard's documents, searchable by themselves.
        alone = load(IndexStore(shard_folder(store.root, k)))
        assert top.shard_manifests[k] == IndexStore(shard_folder(store.root, k)).current_name()
        assert set(alone.documents) == {d for d in whole.documents if shard_of(d, 2) == k}
    # A reader of one index folder refuses the top level rather than reading it as empty.
    with pytest.raises(IndexMismatch, match="split into 2 shards"):
        store.read_manifest()


def test_incremental_runs_embed_only_changed_documents(tmp_path: Path) -> None:
    documents = [doc(n) for n in range(8)]
    corpus = write(tmp_path / "corpus", documents)
    store = IndexStore(tmp_path / "index")
    embedder = CountingEmbedder(WordHashEmbedder())
    first = build_index([corpus], store, embedder, CHUNKING, shards=3)
    again = build_index([corpus], store, embedder, CHUNKING)
    assert again.chunks_embedded == 0 and again.version == first.version
    assert len(again.unchanged) == 8
    documents[2] = doc(2, " A new closing sentence on trade.")
    write(corpus, documents)
    changed = build_index([corpus], store, embedder, CHUNKING)
    assert changed.updated == ["d02.txt"]
    assert changed.chunks_embedded == load(store).documents["d02.txt"].chunk_count
    write(corpus, documents[1:])
    pruned = build_index([corpus], store, embedder, CHUNKING, prune=True)
    assert pruned.removed == ["d00.txt"]
    snapshot = load(store)
    assert "d00.txt" not in snapshot.documents
    assert read_sharded(store).statistics == recount(snapshot)  # type: ignore[union-attr]


def test_uploads_and_deletes_go_to_the_owning_shard_in_one_version(tmp_path: Path) -> None:
    store, one = IndexStore(tmp_path / "index"), IndexStore(tmp_path / "one")
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(6)])
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=3)
    build_index([corpus], one, WordHashEmbedder(), CHUNKING)
    before = read_sharded(store)
    assert before is not None
    upserts = [doc(10), doc(11), doc(1, " Replaced.")]
    removals = ["d03.txt", "d04.txt"]
    touched = {shard_of(d.doc_id, 3) for d in upserts} | {shard_of(d, 3) for d in removals}
    assert len(touched) > 1  # the change spans shards
    for target in (store, one):
        changes = apply_changes(
            target, WordHashEmbedder(), CHUNKING, upserts=upserts, removals=removals
        )
        assert [(c.doc_id, c.outcome) for c in changes] == [
            ("d03.txt", "deleted"),
            ("d04.txt", "deleted"),
            ("d10.txt", "added"),
            ("d11.txt", "added"),
            ("d01.txt", "updated"),
        ]
    after = read_sharded(store)
    assert after is not None and after.version == before.version + 1
    moved = {k for k in range(3) if after.shard_manifests[k] != before.shard_manifests[k]}
    assert moved == touched
    snapshot, reference = load(store), load(one)
    assert after.statistics == recount(snapshot) == recount(reference)
    for query in ("climate finance replaced", "organized crime", "statement trade"):
        assert results(snapshot, query) == results(reference, query)


def test_a_change_that_fails_validation_leaves_every_shard_as_it_was(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(6)])
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    before = load(store)

    def refuse(manifest: object) -> None:
        raise RuntimeError("does not load")

    upserts = [doc(20), doc(21), doc(22)]
    assert len({shard_of(d.doc_id, 2) for d in upserts}) == 2
    with pytest.raises(RuntimeError):
        apply_changes(store, WordHashEmbedder(), CHUNKING, upserts=upserts, validate=refuse)
    # The shards published into their folders, but no reader goes there: the top is unchanged.
    assert load(store).manifest_name == before.manifest_name
    assert set(load(store).documents) == set(before.documents)
    apply_changes(store, WordHashEmbedder(), CHUNKING, upserts=upserts[:1])
    snapshot = load(store)
    assert set(snapshot.documents) == set(before.documents) | {"d20.txt"}
    assert read_sharded(store).statistics == recount(snapshot)  # type: ignore[union-attr]


def test_another_shard_count_needs_a_rebuild(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(5)])
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, WordHashEmbedder(), CHUNKING)
    with pytest.raises(IndexMismatch, match="one shard"):
        build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2, rebuild=True)
    with pytest.raises(IndexMismatch, match="2 shards, not 3"):
        build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=3)
    with pytest.raises(IndexMismatch, match="2 shards"):
        build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=1)
    report = build_index([corpus], store, WordHashEmbedder(), CHUNKING, rebuild=True)
    assert len(report.added) == 5 and len(load(store).shards) == 2  # rebuilt the same way
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=1, rebuild=True)
    assert read_sharded(store) is None and len(load(store).chunks) == report.chunks_embedded


def test_a_shard_store_reads_the_version_the_top_level_names(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(4)])
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    top = read_sharded(store)
    assert top is not None
    shard = ShardStore(shard_folder(store.root, 0), top.shard_manifests[0])
    assert shard.current_name() == top.shard_manifests[0]
    assert not ShardStore(shard_folder(store.root, 0), None).exists()


def test_verify_checks_the_segments_of_every_shard(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(6)])
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    assert verify_index(store).ok
    top = read_sharded(store)
    assert top is not None and top.shard_manifests[1] is not None
    shard = IndexStore(shard_folder(store.root, 1))
    segment = shard.read_manifest_named(top.shard_manifests[1]).segments[0]
    with open(shard.segments_dir / segment / "tokens.jsonl", "a", encoding="utf-8") as f:
        f.write('{"t": []}\n')
    report = verify_index(store)
    assert not report.ok
    assert [str(p).split(":")[0] for p in report.versions[0].problems] == [
        f"shard-001/{segment}/tokens.jsonl"
    ]


def test_stored_sentence_vectors_are_found_through_the_shards(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(6)])
    one, store = IndexStore(tmp_path / "one"), IndexStore(tmp_path / "index")
    for target, shards in ((one, 1), (store, 3)):
        build_index(
            [corpus], target, WordHashEmbedder(), CHUNKING, shards=shards, sentence_vectors=True
        )
    reference, snapshot = load(one), load(store)
    by_key = {(c.doc_id, c.start): c for c in reference.chunks}
    assert len({c.id for c in snapshot.chunks}) == len(snapshot.chunks)  # unique across shards
    for chunk in snapshot.chunks:
        theirs = by_key[(chunk.doc_id, chunk.start)]
        for n in range(len(chunk.sentences)):
            found = snapshot.sentences.lookup(chunk, n)
            assert found is not None
            assert found.tobytes() == reference.sentences.lookup(theirs, n).tobytes()  # type: ignore[union-attr]


def test_shard_folders_no_kept_version_reads_are_collected(tmp_path: Path) -> None:
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(6)])
    store = IndexStore(tmp_path / "index")
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=3)
    shards = store.root / "shards"
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2, rebuild=True)
    # The previous version (3 shards) is kept for readers that have just read it.
    assert sorted(p.name for p in shards.iterdir()) == ["shard-000", "shard-001", "shard-002"]
    apply_changes(store, WordHashEmbedder(), CHUNKING, upserts=[doc(7)])
    assert sorted(p.name for p in shards.iterdir()) == ["shard-000", "shard-001"]
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=1, rebuild=True)
    apply_changes(store, WordHashEmbedder(), CHUNKING, upserts=[doc(8)])
    assert list(shards.iterdir()) == []
    assert len(load(store).documents) == 7
