"""Plain text out of HTML, PDF and DOCX files; the text returned is what offsets refer to."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from index.errors import UnreadableDocument

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


def html_text(data: bytes, name: str) -> Extracted:
    """The main text of an HTML page: no scripts, styles, navigation, headers or footers."""
    from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag
    from bs4.element import CData, Declaration, ProcessingInstruction

    soup = BeautifulSoup(data, "html.parser")
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


def pdf_text(data: bytes, name: str) -> Extracted:
    """The text of each page, pages separated by a blank line; metadata keeps page starts."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(f"{name}: the PDF is encrypted", field="files")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "").strip() if info is not None else ""
    except UnreadableDocument:
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


def docx_text(data: bytes, name: str) -> Extracted:
    """Paragraphs and table rows in document order; headings are paragraphs of their own."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[tuple[str, int | None]] = []
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
            else:
                style = item.style.name if item.style is not None else ""
                blocks.append((item.text.strip(), _heading_level(style or "")))
        title = (document.core_properties.title or "").strip()
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
