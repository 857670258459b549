"""Uploading, replacing and deleting documents over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from index.embedding import Embedder
from tests.conftest import SEED_DOC_ID, SEEDS
from tests.files import make_docx, make_pdf

LIMIT_MB = 0.05  # 52,428 bytes

REPORT_PDF = make_pdf(
    [
        ["Water report.", "The council adopted resolution 12 on clean water."],
        ["The budget for the Zorland water project is four million dollars."],
    ]
)
NOTES = b"Fisheries notes.\n\nThe Velm river holds eleven kinds of trout.\n"
PAGE = (
    b"<html><head><title>Press release</title></head><body><nav>Home</nav>"
    b"<main><p>The harbour of Ostrava Bay reopened in March.</p></main></body></html>"
)
REVIEW_DOCX = make_docx(
    [("Heading 1", "Review"), ("Normal", "The auditors found the ledgers in order.")]
)


def make_client(data: Path, embedder: Embedder) -> Iterator[TestClient]:
    """An app on the seeds with a small upload limit, sharing the session's model."""
    settings = Settings(
        data_dir=data, seed_paths=[SEEDS], background_load=False, max_upload_mb=LIMIT_MB
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("api.wiring.load_embedder", lambda settings, **_: embedder)
        with TestClient(create_app(settings)) as client:
            yield client


@pytest.fixture
def client(tmp_path: Path, embedder: Embedder) -> Iterator[TestClient]:
    yield from make_client(tmp_path / "data", embedder)


@pytest.fixture(scope="module")
def shared_client(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[TestClient]:
    """One app for the tests that change nothing."""
    yield from make_client(tmp_path_factory.mktemp("data"), embedder)


def upload(client: TestClient, *files: tuple[str, bytes]) -> dict[str, object]:
    response = client.post("/v1/documents", files=[("files", f) for f in files])
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def state(client: TestClient) -> tuple[str, object]:
    """The published version's name and the document list, to show nothing changed."""
    index = Path(client.app.state.settings.index_path)  # type: ignore[attr-defined]
    return (index / "CURRENT").read_text(), client.get("/v1/documents").json()


def test_upload_reports_each_file_and_one_bad_file_stops_nothing(client: TestClient) -> None:
    body = upload(
        client,
        ("report.pdf", REPORT_PDF),
        ("program.exe", b"MZ"),
        ("notes.txt", NOTES),
        ("release.html", PAGE),
        ("review.docx", REVIEW_DOCX),
    )
    assert body == {
        "results": [
            {"doc_id": "report.pdf", "file": "report.pdf", "outcome": "added", "chunks": 1,
             "error": None},
            {"doc_id": "program.exe", "file": "program.exe", "outcome": "error", "chunks": 0,
             "error": {"code": "unsupported_media_type", "field": "files",
                       "message": "program.exe: unsupported file type .exe; supported: "
                       ".docx, .htm, .html, .jsonl, .md, .pdf, .txt"}},
            {"doc_id": "notes.txt", "file": "notes.txt", "outcome": "added", "chunks": 1,
             "error": None},
            {"doc_id": "release.html", "file": "release.html", "outcome": "added", "chunks": 1,
             "error": None},
            {"doc_id": "review.docx", "file": "review.docx", "outcome": "added", "chunks": 1,
             "error": None},
        ]
    }  # fmt: skip
    listed = {d["doc_id"]: d["title"] for d in client.get("/v1/documents").json()["documents"]}
    assert listed == {
        SEED_DOC_ID: listed[SEED_DOC_ID],
        "notes.txt": "Fisheries notes.",
        "release.html": "Press release",
        "report.pdf": "Water report.",
        "review.docx": "Review",
    }
    html = client.get("/v1/documents/release.html").json()
    assert html["text"] == "The harbour of Ostrava Bay reopened in March."

    again = upload(client, ("notes.txt", NOTES), ("report.pdf", REPORT_PDF))
    assert [r["outcome"] for r in again["results"]] == ["unchanged", "unchanged"]  # type: ignore[index]
    changed = upload(client, ("notes.txt", NOTES + b"The trout spawn in May.\n"))
    assert changed["results"][0]["outcome"] == "updated"  # type: ignore[index]


def test_a_pdf_citation_carries_its_page_and_offsets_into_the_text(client: TestClient) -> None:
    upload(client, ("report.pdf", REPORT_PDF))
    body = client.post(
        "/v1/ask", json={"question": "How much is the budget for the Zorland water project?"}
    ).json()
    assert body["answered"] is True
    citation = body["citations"][0]
    assert citation["doc_id"] == "report.pdf"
    assert citation["page"] == 2
    text = client.get("/v1/documents/report.pdf").json()["text"]
    assert text[citation["start"] : citation["end"]] == citation["text"]
    assert citation["text"] == "The budget for the Zorland water project is four million dollars."
    seed = client.post("/v1/ask", json={"question": "What agencies does China support?"}).json()
    assert seed["citations"][0]["page"] is None


def test_json_text_upload(client: TestClient) -> None:
    body = {"text": "Harbour log.\n\nThe Ostrava ferry sails at noon.", "title": "Log"}
    first = client.post("/v1/documents", json=body).json()["results"][0]
    assert first["outcome"] == "added"
    assert first["doc_id"].startswith("text-")
    assert client.post("/v1/documents", json=body).json()["results"][0] == {
        **first,
        "outcome": "unchanged",
    }
    named = client.post("/v1/documents", json={**body, "doc_id": "log-7"}).json()
    assert named["results"][0]["doc_id"] == "log-7"
    document = client.get("/v1/documents/log-7").json()
    assert (document["title"], document["text"]) == ("Log", body["text"])


def test_jsonl_upload_gives_one_result_per_document(client: TestClient) -> None:
    lines = [
        {"_id": "s1", "title": "One", "text": "The first speech."},
        {"_id": "s2", "title": "Two", "text": "The second speech.", "year": 2024},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    results = upload(client, ("speeches.jsonl", data))["results"]
    assert [(r["doc_id"], r["file"], r["outcome"]) for r in results] == [  # type: ignore[index, union-attr]
        ("s1", "speeches.jsonl", "added"),
        ("s2", "speeches.jsonl", "added"),
    ]
    assert client.get("/v1/documents/s2").json()["metadata"] == {"year": 2024}


def test_put_replaces_and_the_old_text_is_never_cited(client: TestClient) -> None:
    upload(client, ("notes.txt", NOTES))
    question = {"question": "How many kinds of trout does the Velm river hold?"}
    assert client.post("/v1/ask", json=question).json()["citations"][0]["doc_id"] == "notes.txt"
    new_text = "Fisheries notes, corrected.\n\nThe harbour master retired in June.\n"
    response = client.put(
        "/v1/documents/notes.txt", files={"files": ("anything.txt", new_text.encode())}
    )
    assert response.json() == {
        "doc_id": "notes.txt", "file": "anything.txt", "outcome": "updated", "chunks": 1,
        "error": None,
    }  # fmt: skip
    assert client.get("/v1/documents/notes.txt").json()["text"] == new_text
    answer = client.post("/v1/ask", json=question).json()
    assert all("trout" not in c["text"] for c in answer["citations"])
    for hit in client.post("/v1/search", json={"query": "trout", "top_k": 50}).json()["results"]:
        text = client.get(f"/v1/documents/{hit['doc_id']}").json()["text"]
        assert text[hit["start"] : hit["end"]] == hit["text"]

    put_json = client.put("/v1/documents/sub/new.txt", json={"text": "A new nested note."})
    assert put_json.json()["outcome"] == "added"
    assert client.get("/v1/documents/sub/new.txt").json()["text"] == "A new nested note."


def test_delete_removes_a_document_from_every_answer(client: TestClient) -> None:
    upload(client, ("notes.txt", NOTES))
    response = client.delete("/v1/documents/notes.txt")
    assert response.json() == {
        "doc_id": "notes.txt", "file": None, "outcome": "deleted", "chunks": 1, "error": None,
    }  # fmt: skip
    assert client.get("/v1/documents/notes.txt").status_code == 404
    answer = client.post("/v1/ask", json={"question": "How many kinds of trout are there?"})
    assert all(c["doc_id"] != "notes.txt" for c in answer.json()["citations"])
    search = client.post("/v1/search", json={"query": "Velm river trout", "top_k": 50}).json()
    assert {hit["doc_id"] for hit in search["results"]} == {SEED_DOC_ID}
    again = client.delete("/v1/documents/notes.txt")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "document_not_found"


BIG = b"Word. " * 10_000  # 60,000 bytes, over the 52,428-byte limit


@pytest.mark.parametrize(
    ("files", "status", "code", "message"),
    [
        ([("big.txt", BIG)], 413, "payload_too_large", "big.txt: larger than the 0.05 MB limit"),
        ([("sheet.xlsx", b"PK")], 415, "unsupported_media_type", "sheet.xlsx: unsupported"),
        ([("bad.pdf", b"%PDF-1.4 junk")], 422, "unreadable_document", "bad.pdf: not a readable"),
        ([("bad.docx", b"junk")], 422, "unreadable_document", "bad.docx: not a readable DOCX"),
        ([("blank.txt", b"\n \n")], 422, "unreadable_document", "blank.txt: no extractable"),
        ([("../evil.txt", b"Evil.")], 422, "invalid_doc_id", "doc_id must not contain path"),
        ([("a\x7fb.txt", b"Evil.")], 422, "invalid_doc_id", "doc_id must not contain control"),
        ([("bad.pdf", b"junk"), ("x.exe", b"MZ")], 422, "unreadable_document", "bad.pdf: not"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(
    shared_client: TestClient, files: list[tuple[str, bytes]], status: int, code: str, message: str
) -> None:
    upload(shared_client, ("notes.txt", NOTES))
    before = state(shared_client)
    response = shared_client.post("/v1/documents", files=[("files", f) for f in files])
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, "doc_id" if "doc_id" in code else "files")
    assert error["message"].startswith(message)
    assert state(shared_client) == before


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/v1/documents", {"json": {"text": " "}}, 422, "invalid_request"),
        ("post", "/v1/documents", {"json": {"doc_id": "a/b", "text": "x."}}, 422, "invalid_doc_id"),
        (
            "post",
            "/v1/documents",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        (
            "post",
            "/v1/documents",
            {"content": b"hi", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ("post", "/v1/documents", {"json": {"text": "x" * 60_000}}, 413, "payload_too_large"),
        ("put", "/v1/documents/a/%2E%2E/b", {"json": {"text": "x."}}, 422, "invalid_doc_id"),
        (
            "put",
            "/v1/documents/n.txt",
            {"json": {"doc_id": "m.txt", "text": "x."}},
            422,
            "invalid_request",
        ),
        (
            "put",
            "/v1/documents/s.jsonl",
            {"files": {"files": ("s.jsonl", b"{}")}},
            415,
            "unsupported_media_type",
        ),
        ("delete", "/v1/documents/nope.txt", {}, 404, "document_not_found"),
        ("delete", "/v1/documents/a/%2E%2E/b", {}, 422, "invalid_doc_id"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    shared_client: TestClient,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    upload(shared_client, ("notes.txt", NOTES))
    before = state(shared_client)
    response = getattr(shared_client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert state(shared_client) == before


def test_questions_are_answered_while_documents_are_uploaded(client: TestClient) -> None:
    errors: list[str] = []
    done = threading.Event()

    def ask_in_a_loop() -> None:
        while not done.is_set():
            response = client.post(
                "/v1/ask", json={"question": "What agencies does China support?"}
            )
            body = response.json()
            if response.status_code != 200 or body["citations"][0]["doc_id"] != SEED_DOC_ID:
                errors.append(response.text)

    reader = threading.Thread(target=ask_in_a_loop)
    reader.start()
    try:
        for n in range(4):
            text = f"Bulletin {n}.\n\nThe ferry number {n} sails at {n} o'clock.\n".encode()
            upload(client, (f"bulletin-{n}.txt", text))
            assert client.delete(f"/v1/documents/bulletin-{n - 1}.txt").status_code in (200, 404)
    finally:
        done.set()
        reader.join()
    assert errors == []
    listed = [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]
    assert listed == ["bulletin-3.txt", SEED_DOC_ID]


def test_a_collection_without_keywords_stays_servable_after_a_restart(
    tmp_path: Path, embedder: Embedder
) -> None:
    data = tmp_path / "data"
    for client in make_client(data, embedder):
        added = client.post("/v1/documents", json={"doc_id": "punct.txt", "text": "!!! ??? ..."})
        assert added.status_code == 200, added.text
        assert client.delete(f"/v1/documents/{SEED_DOC_ID}").status_code == 200
        assert client.post("/v1/search", json={"query": "China"}).status_code == 200
    for client in make_client(data, embedder):
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["documents"]) == ("ready", 1)


def test_a_file_over_the_limit_is_refused_without_waiting_for_the_writer(
    client: TestClient,
) -> None:
    writer = client.app.state.writer  # type: ignore[attr-defined]
    release = threading.Event()
    busy = writer.executor.submit(release.wait, 60)  # a long upload holds the writer
    try:
        big = b"x" * int(LIMIT_MB * (1 << 20) + 10)
        with ThreadPoolExecutor(1) as pool:
            response = pool.submit(
                client.post, "/v1/documents", files={"files": ("big.txt", big)}
            ).result(timeout=20)
        assert response.status_code == 413
        assert not busy.done()
    finally:
        release.set()
