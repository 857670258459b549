"""Documents and the loaders that read them from files."""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import tarfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import InvalidDocumentId, UnreadableDocument, UnsupportedFormat
from index.formats import Budget, Extracted, docx_text, html_text, pdf_text

TEXT_SUFFIXES = frozenset({".txt", ".md"})
JSONL_SUFFIXES = frozenset({".jsonl"})
EXTRACTORS = {".html": html_text, ".htm": html_text, ".pdf": pdf_text, ".docx": docx_text}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | frozenset(EXTRACTORS)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2")
MAX_DOC_ID_CHARS = 512


@dataclass(frozen=True)
class Document:
    """A document's plain text, the unit that is indexed, cited and replaced."""

    doc_id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """A hash of everything that changes how the document is indexed."""
        payload = json.dumps([self.title, self.text], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def page_at(metadata: dict[str, Any], start: int) -> int | None:
    """The 1-based page holding character `start`, for documents that record page starts."""
    starts = metadata.get("page_starts")
    if not starts:
        return None
    return max(1, bisect.bisect_right(starts, start))


def validate_doc_id(doc_id: str, *, allow_subfolders: bool = False) -> str:
    """Return doc_id if it is safe to store and show, else raise InvalidDocumentId."""
    if not doc_id or not doc_id.strip():
        raise InvalidDocumentId("doc_id must not be empty", field="doc_id")
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise InvalidDocumentId(
            f"doc_id is longer than {MAX_DOC_ID_CHARS} characters", field="doc_id"
        )
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in doc_id):
        raise InvalidDocumentId("doc_id must not contain control characters", field="doc_id")
    if "\\" in doc_id or (not allow_subfolders and "/" in doc_id):
        raise InvalidDocumentId("doc_id must not contain path separators", field="doc_id")
    parts = doc_id.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidDocumentId(
            "doc_id must not contain '.', '..' or empty path parts", field="doc_id"
        )
    return doc_id


# Lines that address the audience rather than say what the text is ("Mr. President,").
_SALUTATION = re.compile(
    r"^[-*•\s]*(?:mr|mrs|ms|madam|madame|dear|sir|your|his|her|excellenc\w*|ladies|distinguished|"
    r"honou?rable|esteemed|president|secretary|colleagues|friends|delegates|members|"
    r"good (?:morning|afternoon|evening)|thank you|greetings|hello)\b",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^(?:[-*•]|\d{1,3}[.)])\s*")
# A sentence ends at . ! or ? and a space, but not after a title such as "Mr.".
_SENTENCE_END = re.compile(r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bMrs\.)(?<!\bSt\.)(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(\S.*?)\s*#*\s*$")
MAX_TITLE_CHARS = 200
TITLE_LINES_READ = 40


def title_from_text(text: str, fallback: str) -> str:
    """The first heading, else the first line that reads as a sentence or a title.

    Salutations ("Mr. President,", "Your Excellency ...") and lines ending in a comma are
    skipped; a long first sentence is cut at a word, near MAX_TITLE_CHARS.
    """
    lines = [line.strip() for line in text.splitlines()[:TITLE_LINES_READ]]
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            return _shorten(heading.group(1))
    for raw in lines:
        line = _LIST_MARKER.sub("", raw)
        words = re.findall(r"[^\W\d_]+", line)
        if not words or line.endswith(",") or _SALUTATION.match(line):
            continue
        first_sentence = _SENTENCE_END.split(line, maxsplit=1)[0]
        return _shorten(first_sentence)
    return fallback


def _shorten(line: str) -> str:
    if len(line) <= MAX_TITLE_CHARS:
        return line
    cut = line[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;: ") + "…"


def decode_text(data: bytes, name: str) -> str:
    """Decode UTF-8 text (a BOM is dropped); anything else is unreadable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"{name}: not UTF-8 text ({exc.reason})", field="files") from exc
    return text


def check_supported(name: str) -> str:
    """The file's lower-case suffix, or UnsupportedFormat when no loader reads it."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
            field="files",
        )
    return suffix


def documents_from_bytes(
    name: str,
    data: bytes,
    doc_id: str | None = None,
    budget: Budget | None = None,
    title: str | None = None,
) -> list[Document]:
    """Parse one file's bytes by its suffix into documents, within `budget` (default limits),
    titled `title` when given."""
    suffix = check_supported(name)
    doc_id = doc_id if doc_id is not None else name
    if suffix in JSONL_SUFFIXES:
        # Records end at "\n" only: str.splitlines() would also cut at U+2028, U+0085 and
        # others, which JSON strings may hold unescaped (as `qa index` reads files, by line).
        return list(iter_jsonl_documents(decode_text(data, name).split("\n"), name))
    if suffix in TEXT_SUFFIXES:
        extracted = Extracted(text=decode_text(data, name))
    else:
        extracted = EXTRACTORS[suffix](data, name, budget)
    if not extracted.text.strip():
        raise UnreadableDocument(f"{name}: no extractable text", field="files")
    title = title or extracted.title or title_from_text(extracted.text, Path(name).stem)
    return [Document(doc_id=doc_id, text=extracted.text, title=title, metadata=extracted.metadata)]


def is_encodable(record: object) -> bool:
    """False when parsed JSON holds a lone surrogate (json accepts "\\ud800"; UTF-8 cannot)."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def iter_jsonl_documents(lines: Iterable[str], name: str) -> Iterator[Document]:
    """Documents from BEIR corpus lines: `_id`, `title`, `text`, other fields kept as metadata."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableDocument(f"{name}, line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "_id" not in record or "text" not in record:
            raise UnreadableDocument(f"{name}, line {number}: needs '_id' and 'text' fields")
        if "\\u" in line and not is_encodable(record):
            raise UnreadableDocument(
                f"{name}, line {number}: has a lone surrogate escape (not valid Unicode text)"
            )
        doc_id = validate_doc_id(str(record["_id"]), allow_subfolders=True)
        text, title = str(record["text"]), str(record.get("title") or "")
        if not text.strip():
            continue
        metadata = {k: v for k, v in record.items() if k not in {"_id", "title", "text"}}
        yield Document(doc_id=doc_id, text=text, title=title, metadata=metadata)


def iter_file_documents(path: Path, doc_id: str) -> Iterator[Document]:
    """Documents in one file; `.jsonl` files and tar archives stream."""
    if is_archive(path):
        yield from iter_archive_documents(path)
        return
    if path.suffix.lower() in JSONL_SUFFIXES:
        try:
            with path.open(encoding="utf-8-sig") as lines:
                yield from iter_jsonl_documents(lines, path.name)
        except UnicodeDecodeError as exc:
            raise UnreadableDocument(
                f"{path.name}: not UTF-8 text ({exc.reason})", field="files"
            ) from exc
        return
    yield from documents_from_bytes(path.name, path.read_bytes(), doc_id=doc_id)


def is_archive(path: Path) -> bool:
    """True for a tar archive, compressed or not, by its name."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def iter_archive_documents(path: Path) -> Iterator[Document]:
    """Documents in a tar archive, read as a stream without extracting it.

    Each supported file inside becomes documents with doc_id = its path in the archive; memory
    holds one member at a time, whatever the archive's size.
    """
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                suffix = Path(name).suffix.lower()
                hidden = any(part.startswith(".") for part in name.split("/"))
                if not member.isfile() or hidden or suffix not in SUPPORTED_SUFFIXES:
                    continue
                data = archive.extractfile(member)
                if data is None:
                    continue
                doc_id = validate_doc_id(name, allow_subfolders=True)
                yield from documents_from_bytes(name, data.read(), doc_id=doc_id)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnreadableDocument(f"{path.name}: not a readable tar archive ({exc})") from exc


def iter_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Each supported file under paths with its doc_id (its path relative to the folder given)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    file = Path(root) / name
                    # Tar archives are read member by member (iter_archive_documents).
                    supported = file.suffix.lower() in SUPPORTED_SUFFIXES or is_archive(file)
                    if not name.startswith(".") and supported:
                        yield file, file.relative_to(path).as_posix()
        elif path.is_file():
            yield path, path.name
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def iter_documents(paths: Iterable[Path]) -> Iterator[Document]:
    """Every document under the given files and folders, read lazily."""
    for file, doc_id in iter_paths(paths):
        yield from iter_file_documents(file, validate_doc_id(doc_id, allow_subfolders=True))
