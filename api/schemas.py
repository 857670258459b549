"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from api.errors import ErrorDetail
from index.documents import MAX_DOC_ID_CHARS
from qa.check import split_claims
from qa.ingest import ItemOutcome

MAX_QUESTION_CHARS = 2000
MAX_FILTER_DOCUMENTS = 1000
DOC_IDS_DESCRIPTION = "Search only these documents (their doc_id); every document when omitted."


# A character str.strip() keeps, as a pattern both regex dialects read alike: Python counts
# \x1c-\x1f and \x85 as white space, JSON Schema's (ECMAScript's) \s does not.
NON_BLANK = r"[^\s\x1c-\x1f\x85]"


# The schema says what the validators check (inside each branch of `X | None`, where
# generated clients look): ids the service issued, and non-empty lists of non-empty ids.
ConversationId = Annotated[str, Field(max_length=64, json_schema_extra={"format": "uuid"})]
DocIdList = Annotated[
    list[Annotated[str, Field(json_schema_extra={"pattern": NON_BLANK})]],
    Field(max_length=MAX_FILTER_DOCUMENTS, json_schema_extra={"minItems": 1}),
]


def _doc_ids(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("doc_ids must name at least one document (omit it to search all)")
    if any(not d.strip() for d in value):
        raise ValueError("doc_ids must not contain empty ids")
    return list(dict.fromkeys(value))


def text_schema(max_chars: int | None = None) -> dict[str, Any]:
    """What the validators accept, for the OpenAPI schema (generated clients send only that).

    Declared rather than enforced with Field(max_length=...), so that the validators' own
    messages ("question must not be empty") stay the ones clients get.
    """
    schema: dict[str, Any] = {"minLength": 1, "pattern": NON_BLANK}
    if max_chars is not None:
        schema["maxLength"] = max_chars
    return schema


# What validate_doc_id accepts (a little tighter: no leading '.' or space), in a pattern
# generated clients can use: no separators, control or common format characters.
_DOC_ID_CHAR = (
    r"/\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
)
DOC_ID_SCHEMA: dict[str, Any] = {
    "minLength": 1,
    "maxLength": MAX_DOC_ID_CHARS,
    "pattern": rf"^[^\s.{_DOC_ID_CHAR}][^{_DOC_ID_CHAR}]*$",
}


def _require_text(value: str, name: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"{name} must be at most {MAX_QUESTION_CHARS} characters")
    return value.strip()


class AskRequest(BaseModel):
    """A question about the documents."""

    question: str = Field(
        description="The question, 1 to 2,000 characters.",
        json_schema_extra=text_schema(MAX_QUESTION_CHARS),
    )
    top_k: int | None = Field(
        None, ge=1, le=50, description="Passages retrieved to answer it (default QA_TOP_K)."
    )
    conversation_id: ConversationId | None = Field(
        None,
        description="Ask as a follow-up in this conversation; a new one is started when omitted.",
    )
    doc_ids: DocIdList | None = Field(None, description=DOC_IDS_DESCRIPTION)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return _require_text(value, "question")

    @field_validator("doc_ids")
    @classmethod
    def _doc_ids(cls, value: list[str] | None) -> list[str] | None:
        return _doc_ids(value)


class CitationOut(BaseModel):
    """A verbatim excerpt: the document's text[start:end] is exactly `text`."""

    n: int
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = Field(None, description="The page the excerpt starts on (PDFs).")


class CorrectionOut(BaseModel):
    """A word of the question read as another that the documents use."""

    kind: Literal["spelling", "alias", "variant"] = Field(
        description="spelling: a typo corrected to the documents' word; alias: an acronym or "
        "its expansion; variant: a related form (Africa, African)."
    )
    source: str = Field(description="As asked.")
    target: str = Field(description="As the documents say it.")


class AskResponse(BaseModel):
    """An answer quoting the documents, or an abstention (answered false, no citations)."""

    answer: str
    answered: bool
    citations: list[CitationOut]
    conversation_id: str | None = Field(
        None, description="The conversation this turn belongs to; pass it to ask a follow-up."
    )
    removed_sentences: int | None = Field(
        None, description="Written answers only: sentences dropped as unsupported by the excerpts."
    )
    corrections: list[CorrectionOut] = Field(
        default_factory=list,
        description="How words of the question were read (typos corrected, acronyms expanded).",
    )
    scope: list[str] = Field(
        default_factory=list,
        description="The documents the question named (by speaker, country or title) and was "
        "answered from; empty when it named none.",
    )


class SearchRequest(BaseModel):
    """A retrieval query."""

    query: str = Field(
        description="What to look for, 1 to 2,000 characters.",
        json_schema_extra=text_schema(MAX_QUESTION_CHARS),
    )
    top_k: int = Field(10, ge=1, le=50, description="How many passages to return.")
    doc_ids: DocIdList | None = Field(None, description=DOC_IDS_DESCRIPTION)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _require_text(value, "query")

    @field_validator("doc_ids")
    @classmethod
    def _doc_ids(cls, value: list[str] | None) -> list[str] | None:
        return _doc_ids(value)


class SearchResult(BaseModel):
    """A retrieved passage: the document's text[start:end] is exactly `text`."""

    doc_id: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = Field(None, description="The page the passage starts on (PDFs).")


class SearchResponse(BaseModel):
    """Passages ranked best first."""

    results: list[SearchResult]


class DocumentSummaryOut(BaseModel):
    """A line of the document list."""

    doc_id: str
    title: str
    chars: int
    chunks: int


class DocumentListResponse(BaseModel):
    """Every indexed document."""

    documents: list[DocumentSummaryOut]


class DocumentOut(DocumentSummaryOut):
    """A document with its full text, which citation offsets refer to."""

    text: str
    metadata: dict[str, Any]


class HealthResponse(BaseModel):
    """Liveness or readiness."""

    status: str
    detail: str | None = None
    documents: int | None = None
    chunks: int | None = None
    index_version: int | None = None


class TurnOut(BaseModel):
    """One question of a conversation and its answer."""

    n: int
    question: str
    query: str = Field(description="What was retrieved with: the question plus earlier terms.")
    answer: str
    answered: bool
    citations: list[CitationOut]
    created_at: datetime


class ConversationOut(BaseModel):
    """A conversation's turns, oldest first."""

    conversation_id: str
    created_at: datetime
    turns: list[TurnOut]


class DocumentIn(BaseModel):
    """A document given as text; its doc_id defaults to a hash of its content."""

    doc_id: str | None = Field(
        None, description="The id to store it under.", json_schema_extra=DOC_ID_SCHEMA
    )
    title: str | None = Field(None, description="Its title; default: its first line.")
    text: str = Field(
        description="The text, stored exactly as given.", json_schema_extra=text_schema()
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be empty")
        return value


class DocumentResult(BaseModel):
    """What happened to one document or uploaded file."""

    doc_id: str | None
    file: str | None = Field(None, description="The uploaded file it came from.")
    outcome: ItemOutcome
    chunks: int = Field(0, description="Its chunks in the index (0 on error).")
    error: ErrorDetail | None = None


class DocumentResults(BaseModel):
    """One result per document, in upload order."""

    results: list[DocumentResult]


MAX_DRAFT_CHARS = 20_000
MAX_DRAFT_CLAIMS = 200


class CheckRequest(BaseModel):
    """A draft to fact-check: each of its sentences is a claim."""

    text: str = Field(
        description="A sentence or a paragraph, 1 to 20,000 characters.",
        json_schema_extra=text_schema(MAX_DRAFT_CHARS),
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be empty")
        if len(value) > MAX_DRAFT_CHARS:
            raise ValueError(f"text must be at most {MAX_DRAFT_CHARS:,} characters")
        if len(split_claims(value)) > MAX_DRAFT_CLAIMS:
            raise ValueError(f"text must have at most {MAX_DRAFT_CLAIMS} sentences")
        return value


class ClaimOut(BaseModel):
    """A claim of the draft, its verdict and the verbatim excerpts that decide it."""

    text: str
    verdict: Literal["supported", "contradicted", "not_found"]
    score: float = Field(
        description="The verdict model's probability of the verdict on the deciding evidence "
        "(for not_found: similarity and coverage of the closest sentence)."
    )
    reason: str = Field(
        description="Why: the contrasting pair of words, the words no document mentions, ..."
    )
    evidence: list[CitationOut]


class CheckResponse(BaseModel):
    """A verdict for each sentence of the draft, in order."""

    claims: list[ClaimOut]
