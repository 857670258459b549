"""A sharded index answers as one index of the same documents: /v1/search, /v1/ask, /v1/check
and chat over HTTP, with the real model, before and after an upload and a delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring import load_embedder, open_store
from index.build import build_index
from index.multilingual import load_channel
from index.shards import read_sharded, shard_of
from index.store import IndexStore
from tests.conftest import SEED_DOC_ID, SEEDS, SHARED

SPEECHES = SHARED / "corpora" / "ungdc-session79-2024.jsonl"
QUESTIONS = [
    "What agencies does China support?",
    "What did Angola say about the conflicts in Africa?",
    "Which country spoke about climate change and small island states?",
    "What is said about the reform of the Security Council?",
    "Which vaccines did China donate in 2021?",
    "中国支持哪些机构？",
]
UPLOAD = {
    "doc_id": "uploaded-note.txt",
    "title": "A note on ocean shipping",
    "text": "The ocean shipping council met in Lisbon in March. It agreed that container fees "
    "for small island states will be halved from next year. The Security Council was not "
    "consulted on the shipping fees.",
}


def _corpus(folder: Path) -> Path:
    if not SPEECHES.exists():
        pytest.skip("../shared/corpora is not beside the repository")
    folder.mkdir()
    lines = SPEECHES.read_text(encoding="utf-8").splitlines()[:4]
    (folder / "speeches.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / SEED_DOC_ID).write_text((SEEDS / SEED_DOC_ID).read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, TestClient]]:
    """Apps on the same documents indexed as one shard, two and three."""
    corpus = _corpus(tmp_path_factory.mktemp("corpus") / "docs")
    apps = {}
    embedder = channel = None
    for shards in (1, 2, 3):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(f"shards-{shards}"),
            seed_paths=[],
            background_load=False,
        )
        # The model the app loads, loaded once for the three builds.
        embedder = embedder or load_embedder(settings)
        channel = channel or load_channel(settings.channel_model)
        build_index(
            [corpus],
            open_store(settings),
            embedder,
            settings.chunking(),
            channel=channel,
            shards=shards,
        )
        apps[shards] = (settings, create_app(settings))
    entered = {shards: TestClient(app) for shards, (_, app) in apps.items()}
    for client in entered.values():
        client.__enter__()
    try:
        for shards, (settings, _) in apps.items():
            top = read_sharded(IndexStore(settings.index_path))
            assert (top.shards if top is not None else 1) == shards
        yield entered
    finally:
        for client in entered.values():
            client.__exit__(None, None, None)


DRAFT = (
    "China supports the United Nations counter terrorism office. "
    "Angola called for an end to the conflicts in Africa. China donated ten million vaccines."
)
CHAT = [
    {"role": "user", "content": "What agencies does China support?"},
    {"role": "assistant", "content": "China supports the United Nations counter terrorism office"},
    {"role": "user", "content": "What should they strengthen coordination with?"},
]


def _answers(client: TestClient) -> list[str]:
    """Every question's search top-10 and answer, a fact check and a chat turn, as the service
    sends them (less what is new each time: ids and clocks)."""
    check = client.post("/v1/check", json={"text": DRAFT})
    chat = client.post("/v1/chat/completions", json={"messages": CHAT})
    assert check.status_code == chat.status_code == 200
    turn = {k: v for k, v in chat.json().items() if k not in ("id", "created")}
    out = [json.dumps([check.json(), turn], ensure_ascii=False)]
    for question in QUESTIONS:
        search = client.post("/v1/search", json={"query": question, "top_k": 10})
        ask = client.post("/v1/ask", json={"question": question})
        assert search.status_code == ask.status_code == 200
        answer = ask.json()
        answer.pop("conversation_id")  # new for every question
        out.append(json.dumps([search.json(), answer], ensure_ascii=False))
    return out


def test_search_and_answers_equal_those_of_one_index(clients: dict[int, TestClient]) -> None:
    one = _answers(clients[1])
    assert any('"answered": true' in a for a in one) and any('"answered": false' in a for a in one)
    for shards in (2, 3):
        # Doc ids, offsets, texts and scores: the same bytes of JSON.
        assert _answers(clients[shards]) == one


def test_uploads_and_deletes_change_all_shardings_alike(clients: dict[int, TestClient]) -> None:
    doomed = "AGO_79_2024"
    assert shard_of(doomed, 3) != shard_of(UPLOAD["doc_id"], 3)
    for client in clients.values():
        added = client.post("/v1/documents", json=UPLOAD)
        assert added.status_code == 200, added.text
        assert added.json()["results"][0]["outcome"] == "added"
        assert client.delete(f"/v1/documents/{doomed}").status_code == 200
        listed = [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]
        assert UPLOAD["doc_id"] in listed and doomed not in listed
    one = _answers(clients[1])
    shipping = clients[1].post("/v1/ask", json={"question": "Who met in Lisbon in March?"}).json()
    assert shipping["citations"][0]["doc_id"] == UPLOAD["doc_id"]
    for shards in (2, 3):
        assert _answers(clients[shards]) == one
        asked = clients[shards].post("/v1/ask", json={"question": "Who met in Lisbon in March?"})
        assert asked.json()["citations"] == shipping["citations"]
