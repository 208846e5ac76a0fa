"""The Chroma explorer of the original API: status, collections, documents, reindex, clearing."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.api.deps import BookId, StateDep
from services.core.chapters import indexing
from services.core.errors import InvalidInput, NotFound
from services.core.health import check_chroma
from services.core.ids import ID_PATTERN, is_valid_id
from services.core.jobs.schemas import JobOut
from services.core.memory.book_search import search_book_passages

log = logging.getLogger("copiloto.audit")
router = APIRouter(tags=["memory"])

CLEAR_ALL_CONFIRMATION = "DELETE-ALL-MEMORY"


class MemoryStatusOut(BaseModel):
    mode: Literal["server", "embedded"]
    host: str | None
    port: int | None
    collection_prefix: str
    embedding_model: str
    state: str = Field(description="up, down or loading")
    detail: str
    latency_ms: float
    ok: bool
    documents: int | None = Field(default=None, description="Passages held; null when down")


class CollectionOut(BaseModel):
    name: str
    count: int
    metadata: dict[str, Any]


class MemoryDocumentOut(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]


class DocumentPageOut(BaseModel):
    name: str
    book_id: str
    total: int
    limit: int
    offset: int
    items: list[MemoryDocumentOut]


class ClearedOut(BaseModel):
    deleted: int = Field(description="Passages deleted")


class BookClearedOut(ClearedOut):
    book_id: str


class ImportedChapter(BaseModel):
    book_id: str
    chapter_id: str


class VectorizedOut(BaseModel):
    jobs: list[JobOut] = Field(description="The index_chapter jobs queued")
    total: int
    imported: list[ImportedChapter] = Field(description="Chapter files that joined the catalog")


@router.get("/chroma/status")
def chroma_status(state: StateDep) -> MemoryStatusOut:
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
    return MemoryStatusOut.model_validate(body)


@router.get("/chroma/collections")
def chroma_collections(state: StateDep) -> list[CollectionOut]:
    """This system's memory collections (one per book), with their size and metadata."""
    return [
        CollectionOut(name=c.name, count=c.count(), metadata=c.metadata or {})
        for c in state.memory.collections()
    ]


@router.get("/chroma/collection/{name}")
def chroma_collection(
    name: str,
    state: StateDep,
    limit: int = Query(20, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> DocumentPageOut:
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
    return DocumentPageOut(
        name=name,
        book_id=book_id,
        total=total,
        limit=limit,
        offset=offset,
        items=[MemoryDocumentOut(id=d.doc_id, text=d.text, metadata=d.metadata) for d in docs],
    )


@router.delete("/chroma/clear")
def chroma_clear(
    state: StateDep,
    confirm: str = Query(
        ..., description=f"Must be exactly {CLEAR_ALL_CONFIRMATION!r}: deletes every book's memory"
    ),
) -> ClearedOut:
    """Delete the whole memory (every book). The catalog and chapter texts stay."""
    if confirm != CLEAR_ALL_CONFIRMATION:
        raise InvalidInput(f"to clear all memory send confirm={CLEAR_ALL_CONFIRMATION}")
    removed = indexing.forget_memory(state.sessions, state.memory, book_id=None)
    log.warning("memory cleared: %s documents deleted", removed)
    return ClearedOut(deleted=removed)


@router.delete("/chroma/book/{book_id}")
def chroma_delete_book(
    book_id: BookId,
    state: StateDep,
    confirm: str = Query(..., description="Must repeat the book id"),
) -> BookClearedOut:
    """Delete one book's memory (its chapters stay in the catalog and can be reindexed)."""
    if confirm != book_id:
        raise InvalidInput("to delete this book's memory send confirm=<the same book id>")
    removed = indexing.forget_memory(state.sessions, state.memory, book_id=book_id)
    log.warning("memory of book %s deleted: %s documents", book_id, removed)
    return BookClearedOut(book_id=book_id, deleted=removed)


class VectorizeRequest(BaseModel):
    book_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    force: bool = Field(default=False, description="Rebuild chapters whose text is unchanged")
    summarize: bool = Field(default=False, description="Also (re)write LLM summaries")


@router.post(
    "/chroma/vectorize-existing",
    status_code=202,
    response_model=VectorizedOut,
    responses={200: {"description": "Every book already had a reindex pending that covers it"}},
)
def vectorize_existing(state: StateDep, body: VectorizeRequest | None = None) -> JSONResponse:
    """Import chapter files missing from the catalog, then reindex the book (or every book):
    one `reindex_book` job per book, coalesced like `POST /books/{id}/reindex` — a reindex
    already pending that covers the request answers for it (200 when every book had one)."""
    request = body or VectorizeRequest()
    s = state.settings
    done = indexing.vectorize_existing(
        state.jobs,
        s.chapters_dir,
        max_chars=s.max_text_chars,
        book_id=request.book_id,
        force=request.force,
        summarize=request.summarize,
    )
    out = VectorizedOut(
        jobs=[JobOut.model_validate(j) for j in done.jobs],
        total=len(done.jobs),
        imported=[ImportedChapter(book_id=b, chapter_id=c) for b, c in done.imported],
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=202 if done.created else 200)


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
