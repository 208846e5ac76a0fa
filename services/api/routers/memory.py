"""The Chroma explorer of the original API: status, collections, documents, reindex, clearing."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.api.deps import BookId, StateDep
from services.api.routers.jobs import dispatch_committed
from services.core.books.repository import BookRepository
from services.core.books.service import get_book
from services.core.chapters.disk_import import import_chapter_files
from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.errors import InvalidInput, NotFound
from services.core.health import check_chroma
from services.core.ids import ID_PATTERN, is_valid_id
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import create_job, job_snapshot
from services.core.memory.book_search import search_book_passages

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
    book_id = state.memory.book_of(name)
    if not state.memory.owns(name) or not is_valid_id(book_id):
        raise NotFound(
            f"collection {name!r} is not this system's memory "
            f"(its collections are named {state.memory.prefix}-<book_id>)"
        )
    if name != state.memory.collection_name(book_id):
        raise NotFound(
            f"collection {name!r} holds another embedding model's vectors (memory being "
            "rebuilt); the current one is " + state.memory.collection_name(book_id)
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


@router.post("/chroma/vectorize-existing", status_code=202)
def vectorize_existing(state: StateDep, body: VectorizeRequest | None = None) -> JSONResponse:
    """Import chapter files missing from the catalog, then queue an `index_chapter` job for every
    chapter of the book (or of every book)."""
    request = body or VectorizeRequest()
    params = {"force": request.force, "summarize": request.summarize}
    with transaction(state.sessions) as session:
        # Chapters kept only as files (the original layout) join the catalog first.
        imported = import_chapter_files(
            session,
            state.settings.chapters_dir,
            max_chars=state.settings.max_text_chars,
            book_id=request.book_id,
        )
        if request.book_id is not None:
            book_ids = [get_book(session, request.book_id).id]
        else:
            book_ids = [b.id for b in BookRepository(session).list(limit=10_000)]
        jobs = []
        repo = ChapterRepository(session)
        for book_id in book_ids:
            for chapter in repo.list_for_book(book_id):
                job, _ = create_job(
                    session,
                    JobCreate(
                        kind="index_chapter",
                        book_id=book_id,
                        chapter_id=chapter.id,
                        params=params,
                    ),
                )
                jobs.append(job_snapshot(job))
    queued = [j for j in jobs if dispatch_committed(state, j["id"], "index")]
    body_out = {
        "jobs": queued,
        "total": len(queued),
        "imported": [{"book_id": b, "chapter_id": c} for b, c in imported],
    }
    return JSONResponse(body_out, status_code=202)


class SearchHitOut(BaseModel):
    doc_id: str
    chapter_id: str
    chapter_title: str
    chapter_position: int
    passage_index: int | None = Field(description="The passage's number in its chapter")
    kind: str = Field(description="chunk (a passage of the text) or summary")
    text: str
    highlights: list[tuple[int, int]] = Field(
        description="Character spans [start, end) of `text` that match the query's words"
    )
    found_by: Literal["semantic", "lexical", "both"]
    score: float = Field(description="Fused rank score, 1 = first in both rankings")


class BookSearchOut(BaseModel):
    book_id: str
    query: str
    indexed: bool = Field(description="False: the book has no memory yet (index it first)")
    rebuilding: bool = Field(
        description="Memory is being rebuilt with a new embedding model; the old one answered"
    )
    model: str | None
    took_ms: float
    results: list[SearchHitOut]


@router.get("/books/{book_id}/search", response_model=BookSearchOut)
def search_book(
    book_id: BookId,
    state: StateDep,
    q: str = Query(..., description="Words or a question to look for in the book"),
    k: int = Query(10, ge=1, le=50, description="How many passages"),
) -> BookSearchOut:
    """The book's passages that best match `q`, found by meaning (semantic), by words
    (lexical) or both, with the matching words marked. 503 when memory is unavailable."""
    found = search_book_passages(
        state.sessions, state.memory, book_id, q, k, max_chars=state.settings.search_max_chars
    )
    return BookSearchOut.model_validate(asdict(found))
