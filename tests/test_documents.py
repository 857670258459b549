"""Reading documents from bytes: JSONL records and their lines."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from index.documents import documents_from_bytes, iter_documents


def test_jsonl_records_may_hold_unicode_line_separators() -> None:
    texts = ["One\u2028two.", "Three\u0085four\u000bfive\x1cend.", "Last line\r"]
    data = "".join(
        json.dumps({"_id": f"d{i}", "text": t}, ensure_ascii=False) + "\r\n"
        for i, t in enumerate(texts)
    ).encode("utf-8")
    documents = documents_from_bytes("speeches.jsonl", data)
    assert [(d.doc_id, d.text) for d in documents] == [(f"d{i}", t) for i, t in enumerate(texts)]


def test_a_tar_archive_in_a_folder_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha.", encoding="utf-8")
    member = tmp_path / "inside.txt"
    member.write_text("Inside the archive.", encoding="utf-8")
    with tarfile.open(folder / "more.tar.gz", "w:gz") as archive:
        archive.add(member, arcname="inside.txt")
    documents = {d.doc_id: d.text for d in iter_documents([folder])}
    assert documents == {"a.txt": "Alpha.", "inside.txt": "Inside the archive."}
