"""Shard vectors, BM25 and channel vectors served by Ray actors (two simulated nodes): answers
as in one process, a restarted actor answers as before, and a dead one is a 503 naming its
shard."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from api.app import create_app  # noqa: E402
from api.errors import install_error_handlers  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.wiring import load_embedder, open_store, shard_actors  # noqa: E402
from index.build import build_index  # noqa: E402
from index.multilingual import load_channel  # noqa: E402
from index.shard_actors import RemoteKeywords, RemoteVectors, ShardActors  # noqa: E402
from index.sharded import ShardedKeywords, ShardedVectors  # noqa: E402
from index.shards import shard_of  # noqa: E402
from index.store import IndexStore  # noqa: E402
from qa.service import QAService  # noqa: E402
from tests.embedders import WordHashEmbedder  # noqa: E402
from tests.test_shards import CHUNKING, doc, write  # noqa: E402
from tests.test_shards_service import _answers, _corpus  # noqa: E402

QUERIES = ["climate finance", "security council trade", "organized crime", "peace region 3"]


def _kill(part: RemoteVectors | RemoteKeywords) -> None:
    """End the part's actor and let Ray restart it: `ray.kill` only asks, so this returns once
    a call is refused, or after a few seconds (the restart may be done by the first call)."""
    ray.kill(part.actor, no_restart=False)
    refused = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            ray.get(part.actor.size.remote(), timeout=5)
        except refused:
            return
        time.sleep(0.05)


def _end(part: RemoteVectors | RemoteKeywords) -> None:
    """End the part's actor for good, once Ray knows it is dead (a restart can take Ray less time
    than any request: a dead actor is what makes a 503 certain)."""
    ray.kill(part.actor, no_restart=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ray.get(part.actor.size.remote(), timeout=5)
        except ray.exceptions.RayActorError:
            return
        except ray.exceptions.ActorUnavailableError:
            pass
        time.sleep(0.05)
    raise AssertionError("the ended actor still answers")


def _when_back(part: RemoteVectors | RemoteKeywords) -> int:
    """The restarted actor's row count, once it answers (Ray refuses calls while it restarts)."""
    deadline = time.monotonic() + 180
    while True:
        try:
            return int(ray.get(part.actor.size.remote(), timeout=60))
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _hits(service: QAService, query: str) -> list[tuple[str, int, int, float]]:
    return [(h.doc_id, h.chunk.start, h.chunk.end, h.score) for h in service.search(query)]


def test_actors_answer_as_this_process_also_once_restarted_and_a_dead_one_is_a_503(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    build_index([write(tmp_path / "corpus", [doc(n) for n in range(9)])], store,
                WordHashEmbedder(), CHUNKING, shards=3)  # fmt: skip
    local = QAService(store, WordHashEmbedder(), CHUNKING)
    actors = ShardActors(WordHashEmbedder().dimensions, timeout=60.0)
    remote = QAService(store, WordHashEmbedder(), CHUNKING, vectors=actors)
    try:
        assert len(actors.actors) == 3
        nodes = {ray.get(a.node.remote()) for a in actors.actors.values()}
        assert len(nodes) == 2  # spread over both nodes
        for query in QUERIES:
            assert _hits(remote, query) == _hits(local, query)
        # BM25 is the actors' too: this process holds the statistics, no shard's rows.
        keywords = remote.snapshot.keywords
        assert isinstance(keywords, ShardedKeywords)
        assert all(isinstance(p, RemoteKeywords) for p in keywords.parts)
        assert keywords.rows == len(remote.snapshot.chunks)
        assert all(shard.keywords.rows == 0 for shard in remote.snapshot.shards)

        vectors = remote.snapshot.vectors
        assert isinstance(vectors, ShardedVectors)
        part = vectors.parts[1]
        assert isinstance(part, RemoteVectors)
        _kill(part)  # Ray restarts it: max_restarts=-1
        assert _when_back(part) == len(part)
        for query in QUERIES:
            assert _hits(remote, query) == _hits(local, query)

        app = FastAPI()
        install_error_handlers(app)
        app.get("/search")(lambda: remote.search(QUERIES[0]) and {})
        _end(part)
        response = TestClient(app).get("/search")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "shard_unavailable"
        assert "shard 2 of 3" in response.json()["error"]["message"]
    finally:
        actors.close()


def test_serving_distributed_joins_the_cluster_this_process_is_on(two_nodes: Cluster) -> None:
    source = shard_actors(Settings(serve_distributed=True), 64)
    assert isinstance(source, ShardActors) and ray.is_initialized()


def test_a_new_version_gets_new_actors_and_the_one_before_the_last_is_ended(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    store = IndexStore(tmp_path / "index")
    corpus = write(tmp_path / "corpus", [doc(n) for n in range(4)])
    build_index([corpus], store, WordHashEmbedder(), CHUNKING, shards=2)
    actors = ShardActors(WordHashEmbedder().dimensions, timeout=60.0)
    remote = QAService(store, WordHashEmbedder(), CHUNKING, vectors=actors)
    try:
        first = set(actors.actors)
        for n in (10, 11):
            remote.apply(upserts=[doc(n)])
            assert {d for d in remote.snapshot.documents} >= {f"d{n}.txt"}
        # Three versions loaded; actors are kept for the last two only.
        assert len(actors.actors) <= 4 and not first <= set(actors.actors)
        local = QAService(store, WordHashEmbedder(), CHUNKING)
        assert _hits(remote, "climate finance") == _hits(local, "climate finance")

        # A change to shard 2 changes shard 1's scores (the collection's statistics) though
        # not its actor; restarted, that actor has its first statistics and is sent these.
        assert shard_of("d10.txt", 2) == 1 and shard_of("d11.txt", 2) == 0
        remote.apply(upserts=[doc(10, " Climate finance again.")])
        keywords = remote.snapshot.keywords
        assert isinstance(keywords, ShardedKeywords)
        part = keywords.parts[0]
        assert isinstance(part, RemoteKeywords)
        _kill(part)
        _when_back(part)
        local = QAService(store, WordHashEmbedder(), CHUNKING)
        for query in QUERIES:
            assert _hits(remote, query) == _hits(local, query)
    finally:
        actors.close()


def test_qa_serve_distributed_answers_as_one_process_and_503s_a_dead_shard(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path / "docs")
    local = Settings(data_dir=tmp_path / "data", seed_paths=[], background_load=False)
    build_index(
        [corpus],
        open_store(local),
        load_embedder(local),
        local.chunking(),
        channel=load_channel(local.channel_model),
        shards=2,
    )
    spread = local.model_copy(update={"serve_distributed": True})
    with TestClient(create_app(local)) as one, TestClient(create_app(spread)) as other:
        assert _answers(other) == _answers(one)  # a Chinese question among them
        service = other.app.state.service  # type: ignore[attr-defined]
        # The channel's vectors are the actors' too: this process holds none of them.
        channel = service.snapshot.channel
        assert isinstance(channel, ShardedVectors) and len(channel) == len(service.snapshot.chunks)
        assert all(isinstance(p, RemoteVectors) and p.part == "channel" for p in channel.parts)
        assert all(shard.channel is None for shard in service.snapshot.shards)
        part = service.snapshot.vectors.parts[1]
        assert isinstance(part, RemoteVectors)
        _kill(part)
        _when_back(part)
        asked = other.post("/v1/ask", json={"question": "Who spoke for Angola?"}).json()
        expected = one.post("/v1/ask", json={"question": "Who spoke for Angola?"}).json()
        assert asked["citations"] == expected["citations"]
        _end(part)
        response = other.post("/v1/ask", json={"question": "What did Angola say about peace?"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "shard_unavailable"
        assert "shard 2 of 2" in response.json()["error"]["message"]
