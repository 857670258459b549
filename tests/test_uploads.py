"""The streaming multipart reader keeps at most the size limit of any file."""

from __future__ import annotations

from fastapi.testclient import TestClient
from python_multipart.multipart import MultipartParser

from api.uploads import MultipartUploads

BOUNDARY = b"----boundary42"


def part(name: str, filename: str | None, data: bytes) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (
        b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    )


def parse(body: bytes, max_bytes: int, chunk: int = 65536) -> MultipartUploads:
    uploads = MultipartUploads(max_bytes)
    parser = MultipartParser(BOUNDARY, uploads.callbacks())  # type: ignore[arg-type]
    for i in range(0, len(body), chunk):
        parser.write(body[i : i + chunk])
    parser.finalize()
    return uploads


def test_a_file_over_the_limit_is_counted_but_never_kept() -> None:
    big = b"x" * 3_000_000
    body = (
        part("files", "big.txt", big)
        + part("note", None, b"ignored field")
        + part("files", "small.txt", b"small")
        + b"--"
        + BOUNDARY
        + b"--\r\n"
    )
    uploads = parse(body, max_bytes=100_000)
    big_file, small_file = uploads.files
    assert (big_file.filename, big_file.size, big_file.too_large) == ("big.txt", 3_000_000, True)
    assert big_file.read() == b""
    assert (small_file.filename, small_file.too_large, small_file.read()) == (
        "small.txt",
        False,
        b"small",
    )


def test_a_file_at_the_limit_is_kept_whole() -> None:
    body = part("files", "a.txt", b"y" * 1000) + b"--" + BOUNDARY + b"--\r\n"
    [upload] = parse(body, max_bytes=1000, chunk=7).files
    assert (upload.too_large, upload.read()) == (False, b"y" * 1000)


def test_the_closing_boundary_marks_a_body_complete() -> None:
    whole = part("files", "a.txt", b"y" * 100) + b"--" + BOUNDARY + b"--\r\n"
    assert parse(whole, max_bytes=1000).complete
    assert not parse(whole[:-40], max_bytes=1000).complete


def test_a_truncated_multipart_body_is_400_and_stores_nothing(seed_client: TestClient) -> None:
    before = seed_client.get("/v1/documents").json()
    body = part("files", "cut.txt", b"A document cut short by a proxy. " * 100)[:-200]
    response = seed_client.post(
        "/v1/documents",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY.decode()}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert seed_client.get("/v1/documents").json() == before
