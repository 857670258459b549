"""Plain text out of HTML, PDF and DOCX files; the text returned is what offsets refer to."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

from index.errors import ServiceStopping, UnreadableDocument

# Elements that never hold a page's main text.
_HTML_DROP = (
    "script style noscript template nav aside form iframe svg canvas button select input "
    "textarea head title menu dialog".split()
)
# A page's header and footer are site chrome; an article's are part of it.
_HTML_PAGE_CHROME = ["header", "footer"]
# Elements that start a new paragraph of the extracted text.
_HTML_BLOCKS = frozenset(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol table thead tbody tfoot tr "
    "blockquote pre dl dt dd figure figcaption address br hr caption details summary".split()
)
_HTML_CELLS = frozenset({"td", "th"})
_PARAGRAPH = "\n\n"
_BREAK = "\x00"  # marks a paragraph boundary while walking the tree; never in the output
_MAX_REASON_CHARS = 200
# Bounds on reading one file, so that a small crafted file cannot hold the writer for long:
# a 34 KB DOCX can hold 2 million empty paragraphs (measured: 17 s for 20,000 before).
EXTRACT_SECONDS = 30.0
MAX_BLOCKS = 200_000  # paragraphs, table rows or pages
MAX_EXTRACTED_CHARS = 50_000_000
MAX_DOCX_XML_BYTES = 200 << 20  # uncompressed size of the DOCX's parts
_CHECK_EVERY = 1000


class Budget:
    """The work one file may take: a deadline, and an event that cancels it (shutdown)."""

    def __init__(
        self, seconds: float = EXTRACT_SECONDS, cancel: threading.Event | None = None
    ) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cancel = cancel

    def check(self, name: str) -> None:
        """Raise when the file has taken too long or the service is stopping."""
        if self.cancel is not None and self.cancel.is_set():
            raise ServiceStopping(f"{name}: not read, the service is shutting down")
        if time.monotonic() > self.deadline:
            raise UnreadableDocument(
                f"{name}: reading it took over {self.seconds:g} s; split it into smaller files",
                field="files",
            )

    def count(self, name: str, blocks: int, chars: int) -> None:
        """Check the limits after `blocks` paragraphs of `chars` characters in all."""
        if blocks > MAX_BLOCKS:
            raise UnreadableDocument(
                f"{name}: more than {MAX_BLOCKS:,} paragraphs, rows or pages", field="files"
            )
        if chars > MAX_EXTRACTED_CHARS:
            raise UnreadableDocument(
                f"{name}: more than {MAX_EXTRACTED_CHARS:,} characters of text", field="files"
            )
        if blocks % _CHECK_EVERY == 0:
            self.check(name)


@dataclass(frozen=True)
class Extracted:
    """A file's text, its title when the file names one, and format-specific metadata."""

    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:_MAX_REASON_CHARS]


def _paragraphs_text(paragraphs: list[str]) -> str:
    return _PARAGRAPH.join(p for p in paragraphs if p)


def html_text(data: bytes, name: str, budget: Budget | None = None) -> Extracted:
    """The main text of an HTML page: no scripts, styles, navigation, headers or footers."""
    from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag
    from bs4.element import CData, Declaration, ProcessingInstruction

    soup = BeautifulSoup(data, "html.parser")
    if budget is not None:
        budget.check(name)
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article")
    if root is None:
        root = soup.body or soup
        for tag in root.find_all(_HTML_PAGE_CHROME):
            tag.decompose()
    skipped = (Comment, Doctype, CData, Declaration, ProcessingInstruction)
    parts: list[str] = []

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, skipped):
                    parts.append(str(child))
            elif isinstance(child, Tag):
                if child.name in _HTML_BLOCKS:
                    parts.append(_BREAK)
                    walk(child)
                    parts.append(_BREAK)
                else:
                    if child.name in _HTML_CELLS:
                        parts.append(" ")
                    walk(child)

    if isinstance(root, Tag):
        walk(root)
    paragraphs = [" ".join(p.split()) for p in "".join(parts).split(_BREAK)]
    text = _paragraphs_text(paragraphs)
    if not title:
        heading = soup.find("h1")
        title = " ".join(heading.get_text().split()) if heading else ""
    return Extracted(text=text, title=title)


def pdf_text(data: bytes, name: str, budget: Budget | None = None) -> Extracted:
    """The text of each page, pages separated by a blank line; metadata keeps page starts."""
    from pypdf import PdfReader

    budget = budget or Budget()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(f"{name}: the PDF is encrypted", field="files")
        pages: list[str] = []
        chars = 0
        for pdf_page in reader.pages:
            pages.append((pdf_page.extract_text() or "").strip())
            chars += len(pages[-1])
            budget.count(name, len(pages), chars)
            budget.check(name)  # one page can take long: checked after each
        info = reader.metadata
        title = str(info.title or "").strip() if info is not None else ""
    except (UnreadableDocument, ServiceStopping):
        raise
    except Exception as exc:  # pypdf raises many types on damaged files; all mean unreadable
        raise UnreadableDocument(
            f"{name}: not a readable PDF ({_reason(exc)})", field="files"
        ) from exc
    starts: list[int] = []
    texts: list[str] = []
    offset = 0
    for page in pages:
        if texts and page:
            offset += len(_PARAGRAPH)
        starts.append(offset)
        if page:
            texts.append(page)
            offset += len(page)
    return Extracted(
        text=_paragraphs_text(texts),
        title=title,
        metadata={"pages": len(pages), "page_starts": starts},
    )


def _heading_level(style_name: str) -> int | None:
    """1 for Title and Heading 1, n for Heading n, None for other paragraph styles."""
    if style_name == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style_name)
    return int(match.group(1)) if match else None


def _check_docx_size(data: bytes, name: str) -> None:
    """Refuse a DOCX whose parts unpack to more than MAX_DOCX_XML_BYTES (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # docx.Document reports it as unreadable
    if unpacked > MAX_DOCX_XML_BYTES:
        raise UnreadableDocument(
            f"{name}: unpacks to over {MAX_DOCX_XML_BYTES >> 20} MB", field="files"
        )


def docx_text(data: bytes, name: str, budget: Budget | None = None) -> Extracted:
    """Paragraphs and table rows in document order; headings are paragraphs of their own."""
    import docx
    from docx.table import Table

    budget = budget or Budget()
    _check_docx_size(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        budget.check(name)
        blocks: list[tuple[str, int | None]] = []
        # Resolving a paragraph's style costs about 0.8 ms: once per style id, and only for
        # paragraphs with text.
        levels: dict[str | None, int | None] = {}
        seen = chars = 0
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        text = " ".join(cell.text.split())
                        # A merged cell repeats in every column it spans.
                        if text and (not cells or cells[-1] != text):
                            cells.append(text)
                    blocks.append((" | ".join(cells), None))
                    seen, chars = seen + 1, chars + len(blocks[-1][0])
                    budget.count(name, seen, chars)
                continue
            seen += 1
            text = item.text.strip()
            if text:
                style_id = item._p.style  # the paragraph's w:pStyle value, or None
                if style_id not in levels:
                    style = item.style
                    levels[style_id] = _heading_level((style.name if style else "") or "")
                blocks.append((text, levels[style_id]))
                chars += len(text)
            budget.count(name, seen, chars)
        title = (document.core_properties.title or "").strip()
    except (UnreadableDocument, ServiceStopping):
        raise
    except Exception as exc:  # a damaged zip or XML part; all mean unreadable
        raise UnreadableDocument(
            f"{name}: not a readable DOCX ({_reason(exc)})", field="files"
        ) from exc
    texts: list[str] = []
    headings: list[dict[str, Any]] = []
    offset = 0
    for text, level in blocks:
        if not text:
            continue
        if texts:
            offset += len(_PARAGRAPH)
        if level is not None:
            headings.append({"level": level, "text": text, "start": offset})
        texts.append(text)
        offset += len(text)
    if not title and headings:
        title = headings[0]["text"]
    return Extracted(text=_paragraphs_text(texts), title=title, metadata={"headings": headings})
