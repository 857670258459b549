"""Text extraction from HTML, PDF and DOCX, and the offsets citations use."""

from __future__ import annotations

import io
import threading

import pytest

from index import formats
from index.documents import documents_from_bytes, page_at
from index.errors import ServiceStopping, UnreadableDocument, UnsupportedFormat
from index.formats import docx_text
from tests.files import make_docx, make_pdf

PAGE = b"""<!doctype html><html><head><title>Press release 12</title>
<style>p { color: red }</style><script>var tracking = 1;</script></head>
<body><header>Site header</header><nav><a href="/">Home</a> | <a href="/news">News</a></nav>
<div><h1>Statement on water</h1><p>The   <b>Secretary</b>-General
welcomed the agreement.</p><!-- a comment --><ul><li>First point.</li><li>Second point.</li></ul>
<table><tr><td>Year</td><td>2024</td></tr></table></div>
<footer>Copyright 2024</footer><noscript>Enable JavaScript</noscript></body></html>"""


def test_html_keeps_the_main_text_without_scripts_or_navigation() -> None:
    [document] = documents_from_bytes("release.html", PAGE)
    assert document.doc_id == "release.html"
    assert document.title == "Press release 12"
    assert document.text == (
        "Statement on water\n\nThe Secretary-General welcomed the agreement.\n\n"
        "First point.\n\nSecond point.\n\nYear 2024"
    )


def test_html_prefers_main_and_keeps_an_articles_header() -> None:
    page = (
        b"<body><nav>Menu</nav><main><article><header><h1>Title</h1></header>"
        b"<p>Body text.</p></article></main><aside>Related</aside></body>"
    )
    [document] = documents_from_bytes("a.htm", page)
    assert document.text == "Title\n\nBody text."
    assert document.title == "Title"


def test_pdf_pages_are_kept_as_offsets() -> None:
    pdf = make_pdf(
        [["Annual report.", "The council met twice."], [], ["The budget is four million."]],
        title="Report 2024",
    )
    [document] = documents_from_bytes("report.pdf", pdf)
    assert document.title == "Report 2024"
    assert document.text == (
        "Annual report.\nThe council met twice.\n\nThe budget is four million."
    )
    assert document.metadata == {"pages": 3, "page_starts": [0, 37, 39]}
    start = document.text.index("The budget")
    assert page_at(document.metadata, start) == 3
    assert page_at(document.metadata, document.text.index("The council")) == 1
    assert page_at({}, 5) is None


def test_docx_keeps_headings_as_paragraphs_and_tables_as_rows() -> None:
    docx = make_docx(
        [
            ("Title", "Annual review"),
            ("Heading 1", "Introduction"),
            ("Normal", "The year was busy."),
            ("Heading 2", "Budget"),
            ("Normal", "Spending rose."),
        ],
        table=[["Item", "Cost"], ["Water", "12"]],
    )
    [document] = documents_from_bytes("review.docx", docx)
    assert document.text == (
        "Annual review\n\nIntroduction\n\nThe year was busy.\n\nBudget\n\nSpending rose.\n\n"
        "Item | Cost\n\nWater | 12"
    )
    assert document.title == "Annual review"
    assert document.metadata == {
        "headings": [
            {"level": 1, "text": "Annual review", "start": 0},
            {"level": 1, "text": "Introduction", "start": 15},
            {"level": 2, "text": "Budget", "start": 49},
        ]
    }
    for heading in document.metadata["headings"]:
        start = heading["start"]
        assert document.text[start : start + len(heading["text"])] == heading["text"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not a pdf", "broken.pdf: not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "broken.docx: not a readable DOCX"),
        ("blank.pdf", make_pdf([[], []]), "blank.pdf: no extractable text"),
        ("blank.html", b"<html><script>x()</script></html>", "blank.html: no extractable text"),
        ("blank.txt", b" \n\t", "blank.txt: no extractable text"),
        ("latin1.txt", "caf\u00e9".encode("latin-1"), "latin1.txt: not UTF-8 text"),
    ],
)
def test_unreadable_files_say_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableDocument) as error:
        documents_from_bytes(name, data)
    assert error.value.message.startswith(reason)
    assert error.value.field == "files"


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"report\.xlsx: unsupported file type \.xlsx"):
        documents_from_bytes("report.xlsx", b"PK")


def _docx_with_empty_paragraphs(empty: int, texts: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Findings", style="Heading 1")
    for _ in range(empty):
        document.add_paragraph("")
    for text in texts:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_styles_are_resolved_once_per_style_not_per_paragraph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docx.text.paragraph import Paragraph

    lookups = []
    style = Paragraph.style

    def counted(self: Paragraph) -> object:
        lookups.append(1)
        return style.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(Paragraph, "style", property(counted, style.fset))  # type: ignore[attr-defined]
    data = _docx_with_empty_paragraphs(2000, ["One.", "Two.", "Three."])
    extracted = docx_text(data, "many.docx")
    assert extracted.text == "Findings\n\nOne.\n\nTwo.\n\nThree."
    assert extracted.metadata["headings"] == [{"level": 1, "text": "Findings", "start": 0}]
    assert len(lookups) <= 2


def test_docx_with_too_many_paragraphs_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_BLOCKS", 500)
    with pytest.raises(UnreadableDocument, match="more than 500 paragraphs"):
        docx_text(_docx_with_empty_paragraphs(600, []), "many.docx")


def test_reading_stops_past_its_deadline_or_at_shutdown() -> None:
    data = _docx_with_empty_paragraphs(1500, ["Text."])
    with pytest.raises(UnreadableDocument, match="took over"):
        docx_text(data, "slow.docx", formats.Budget(seconds=-1))
    stopping = threading.Event()
    stopping.set()
    with pytest.raises(ServiceStopping):
        docx_text(data, "slow.docx", formats.Budget(cancel=stopping))
