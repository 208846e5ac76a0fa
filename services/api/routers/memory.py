"""The Chroma explorer of the original API: status, collections, documents, reindex, clearing."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from services.api.deps import BookId, StateDep
from services.core.books.repository import BookRepository
from services.core.books.service import get_book
from services.core.chapters.disk_import import import_chapter_files
from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.errors import InvalidInput, NotFound
from services.core.health import check_chroma
from services.core.ids import ID_PATTERN, is_valid_id
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import get_job
from services.core.jobs.submission import Submitted, create_job, job_snapshot

log = logging.getLogger("copiloto.audit")
router = APIRouter(tags=["memory"])

CLEAR_ALL_CONFIRMATION = "DELETE-ALL-MEMORY"


@router.get("/chroma/status")
def chroma_status(state: StateDep) -> dict[str, Any]:
    """Where memory lives, whether it answers, and how many passages it holds."""
    s = state.settings
    check = check_chroma(s.chroma_host, s.chroma_port)
    body: dict[str, Any] = {
        "mode": "server" if s.chroma_host else "embedded",
        "host": s.chroma_host,
        "port": s.chroma_port if s.chroma_host else None,
        "collection_prefix": s.memory_collection,
        "embedding_model": state.memory.embedder.name,
        **check.as_dict(),
    }
    if check.ok:
        body["documents"] = state.memory.count()
    return body


@router.get("/chroma/collections")
def chroma_collections(state: StateDep) -> list[dict[str, Any]]:
    """This system's memory collections (one per book), with their size and metadata."""
    return [
        {"name": c.name, "count": c.count(), "metadata": c.metadata or {}}
        for c in state.memory.collections()
    ]


@router.get("/chroma/collection/{name}")
def chroma_collection(
    name: str,
    state: StateDep,
    limit: int = Query(20, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    """A page of one book's memory: its passages and summaries with their metadata."""
    book_id = name.removeprefix(f"{state.memory.prefix}-")
    if not state.memory.owns(name) or not is_valid_id(book_id):
        raise NotFound(
            f"collection {name!r} is not this system's memory "
            f"(its collections are named {state.memory.prefix}-<book_id>)"
        )
    docs, total = state.memory.documents(book_id, limit=limit, offset=offset)
    return {
        "name": name,
        "book_id": book_id,
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [{"id": d.doc_id, "text": d.text, "metadata": d.metadata} for d in docs],
    }


@router.delete("/chroma/clear")
def chroma_clear(
    state: StateDep,
    confirm: str = Query(
        ..., description=f"Must be exactly {CLEAR_ALL_CONFIRMATION!r}: deletes every book's memory"
    ),
) -> dict[str, Any]:
    """Delete the whole memory (every book). The catalog and chapter texts stay."""
    if confirm != CLEAR_ALL_CONFIRMATION:
        raise InvalidInput(f"to clear all memory send confirm={CLEAR_ALL_CONFIRMATION}")
    removed = state.memory.clear()
    with transaction(state.sessions) as session:
        ChapterRepository(session).forget_indexing(book_id=None)
    log.warning("memory cleared: %s documents deleted", removed)
    return {"deleted": removed}


@router.delete("/chroma/book/{book_id}")
def chroma_delete_book(
    book_id: BookId,
    state: StateDep,
    confirm: str = Query(..., description="Must repeat the book id"),
) -> dict[str, Any]:
    """Delete one book's memory (its chapters stay in the catalog and can be reindexed)."""
    if confirm != book_id:
        raise InvalidInput("to delete this book's memory send confirm=<the same book id>")
    with transaction(state.sessions) as session:
        get_book(session, book_id)
    removed = state.memory.delete_book(book_id)
    with transaction(state.sessions) as session:
        ChapterRepository(session).forget_indexing(book_id=book_id)
    log.warning("memory of book %s deleted: %s documents", book_id, removed)
    return {"book_id": book_id, "deleted": removed}


class VectorizeRequest(BaseModel):
    book_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    force: bool = Field(default=False, description="Rebuild chapters whose text is unchanged")
    summarize: bool = Field(default=False, description="Also (re)write LLM summaries")


@router.post(
    "/chroma/vectorize-existing",
    status_code=202,
    responses={200: {"description": "Every book already had a reindex pending that covers it"}},
)
def vectorize_existing(state: StateDep, body: VectorizeRequest | None = None) -> JSONResponse:
    """Import chapter files missing from the catalog, then reindex the book (or every book):
    one `reindex_book` job per book, coalesced like `POST /books/{id}/reindex` — a reindex
    already pending that covers the request answers for it (200 when every book had one)."""
    request = body or VectorizeRequest()
    params = {"force": request.force, "summarize": request.summarize}
    settings = state.settings

    def plan(session: Session) -> tuple[list[tuple[str, str]], list[Submitted]]:
        # Chapters kept only as files (the original layout) join the catalog first.
        imported = import_chapter_files(
            session,
            settings.chapters_dir,
            max_chars=settings.max_text_chars,
            book_id=request.book_id,
        )
        if request.book_id is not None:
            book_ids = [get_book(session, request.book_id).id]
        else:
            book_ids = [b.id for b in BookRepository(session).list(limit=10_000)]
        jobs = [
            create_job(session, JobCreate(kind="reindex_book", book_id=b, params=params))
            for b in book_ids
        ]
        return imported, jobs

    (imported, jobs), failed = state.jobs.run_and_send(plan)
    with transaction(state.sessions) as session:
        snapshots = [
            job_snapshot(get_job(session, s.job.id)) for s in jobs if s.job.id not in failed
        ]
    body_out = {
        "jobs": snapshots,
        "total": len(snapshots),
        "imported": [{"book_id": b, "chapter_id": c} for b, c in imported],
    }
    created = any(s.created for s in jobs) or not jobs
    return JSONResponse(body_out, status_code=202 if created else 200)
