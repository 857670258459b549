"""Reading documents from bytes: JSONL records and their lines."""

from __future__ import annotations

import json

from index.documents import documents_from_bytes


def test_jsonl_records_may_hold_unicode_line_separators() -> None:
    texts = ["One\u2028two.", "Three\u0085four\u000bfive\x1cend.", "Last line\r"]
    data = "".join(
        json.dumps({"_id": f"d{i}", "text": t}, ensure_ascii=False) + "\r\n"
        for i, t in enumerate(texts)
    ).encode("utf-8")
    documents = documents_from_bytes("speeches.jsonl", data)
    assert [(d.doc_id, d.text) for d in documents] == [(f"d{i}", t) for i, t in enumerate(texts)]
