"""Books."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.api.deps import BookId, StateDep
from services.core.books import service
from services.core.books.schemas import BookCreate, BookOut
from services.core.chapters import service as chapters
from services.core.chapters.schemas import ChapterOut
from services.core.db import transaction

router = APIRouter(tags=["books"])


@router.post("/books", status_code=201)
def create_book(body: BookCreate, state: StateDep) -> BookOut:
    """Create a book."""
    with transaction(state.sessions) as session:
        return BookOut.model_validate(service.create_book(session, body))


@router.get("/books")
def list_books(
    state: StateDep,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> list[BookOut]:
    """List books, oldest first."""
    with transaction(state.sessions) as session:
        return [BookOut.model_validate(b) for b in service.list_books(session, limit, offset)]


@router.get("/books/{book_id}")
def get_book(book_id: BookId, state: StateDep) -> BookOut:
    """One book."""
    with transaction(state.sessions) as session:
        return BookOut.model_validate(service.get_book(session, book_id))


@router.get("/books/{book_id}/chapters")
def list_chapters(book_id: BookId, state: StateDep) -> list[ChapterOut]:
    """The book's chapters in reading order (without their text)."""
    with transaction(state.sessions) as session:
        return chapters.list_chapters(session, book_id)
