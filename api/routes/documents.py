"""The indexed documents."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep
from api.errors import ERROR_RESPONSES
from api.schemas import DocumentListResponse, DocumentOut, DocumentSummaryOut

router = APIRouter(tags=["documents"], responses=ERROR_RESPONSES)


@router.get("/v1/documents", response_model=DocumentListResponse)
async def list_documents(service: ServiceDep) -> DocumentListResponse:
    """Every indexed document with its size."""
    return DocumentListResponse(
        documents=[
            DocumentSummaryOut(doc_id=d.doc_id, title=d.title, chars=d.chars, chunks=d.chunks)
            for d in service.documents()
        ]
    )


@router.get("/v1/documents/{doc_id:path}", response_model=DocumentOut)
async def get_document(doc_id: str, service: ServiceDep) -> DocumentOut:
    """One document with the full text that citation offsets refer to."""
    document = service.document(doc_id)
    return DocumentOut(
        doc_id=document.doc_id,
        title=document.title,
        chars=len(document.text),
        chunks=document.chunk_count,
        text=document.text,
        metadata=document.metadata,
    )
