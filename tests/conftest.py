"""Shared fixtures: the real packaged model, loaded once, and indexes in temporary folders."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from index.embedding import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC_ID = "zhang-jun-organized-crime-statement.txt"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _no_qa_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A developer's QA_* settings (a model, an index folder, API keys) never reach a test.

    Session-wide and autouse, so it runs before the session fixtures that build Settings.
    QA_TEST_* variables are kept: they name test resources (QA_TEST_POSTGRES_URL). Every test's
    data folder shares one model cache, so the ONNX graph is exported once a run.
    """
    settings = [n for n in os.environ if n.startswith("QA_") and not n.startswith("QA_TEST_")]
    with pytest.MonkeyPatch.context() as patch:
        for name in settings:
            patch.delenv(name)
        patch.setenv("QA_MODEL_CACHE_DIR", str(tmp_path_factory.mktemp("models")))
        yield


@pytest.fixture(scope="session")
def two_nodes() -> Iterator[Any]:
    """The simulated two-node Ray cluster, started once a run.

    One Ray session per process: Ray's background threads (Ray Data's among them) can outlive a
    `ray.shutdown()` and touch the freed core worker once a second session starts, which crashed
    the interpreter at exit (ray-project/ray#31145).
    """
    pytest.importorskip("ray")
    from tests.ray_cluster import two_node_cluster

    with two_node_cluster() as cluster:
        yield cluster


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
    if not path.exists():
        # Like the other ../shared tests: skip (a whole module when collecting), not error.
        pytest.skip("../shared/eval is not beside the repository", allow_module_level=True)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


LIVE_API_KEY = "test-key"


@dataclass(frozen=True)
class LiveServer:
    """A uvicorn server on a loopback port; /v1/ needs LIVE_API_KEY."""

    url: str
    api_key: str


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run the app under uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on the seeds under a real uvicorn, with API keys."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("live-data"),
        seed_paths=[SEEDS],
        background_load=False,
        api_keys=[LIVE_API_KEY],
    )
    with serve(settings) as url:
        yield LiveServer(url, LIVE_API_KEY)


def error_body(response: Any) -> dict[str, Any]:
    """An error response's body without its request id, once that is checked to be the header's."""
    body: dict[str, Any] = response.json()
    assert body["error"].pop("request_id") == response.headers["x-request-id"]
    return body


# What .ci/run creates on Debian's PostgreSQL server; QA_TEST_POSTGRES_URL names another.
LOCAL_POSTGRES_URL = "postgresql+psycopg://qa:qa@127.0.0.1:5432/qa_test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of its own on a PostgreSQL server, dropped afterwards.

    QA_TEST_POSTGRES_URL (set by .ci/run) must work; without it, the local default is tried and
    the PostgreSQL tests skip when no server answers there.
    """
    import os
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    required = os.environ.get("QA_TEST_POSTGRES_URL")
    base = required or LOCAL_POSTGRES_URL
    engine = create_engine(base, connect_args={"connect_timeout": 3})
    schema = f"qa_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except (OperationalError, ImportError) as exc:
        engine.dispose()
        if required:
            pytest.fail(f"QA_TEST_POSTGRES_URL is set but unusable: {exc}")
        pytest.skip(f"no PostgreSQL server at {base} (set QA_TEST_POSTGRES_URL)")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
