"""Creating and finding books."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.core.books.models import Book
from services.core.books.repository import BookRepository
from services.core.books.schemas import BookCreate
from services.core.errors import NotFound
from services.core.ids import new_short_id


def create_book(session: Session, data: BookCreate) -> Book:
    book = Book(
        id=new_short_id(),
        title=data.title,
        language=data.language,
        genre=data.genre,
        synopsis=data.synopsis,
    )
    return BookRepository(session).add(book)


def get_book(session: Session, book_id: str, *, include_trashed: bool = False) -> Book:
    """A live book; a book in the trash is a 404 like an unknown one (only the trash and the
    archive restore see it, with `include_trashed`)."""
    book = BookRepository(session).get(book_id)
    if book is None or (book.deleted_at is not None and not include_trashed):
        raise NotFound(f"book {book_id!r} not found")
    return book


def list_books(session: Session, limit: int = 100, offset: int = 0) -> Sequence[Book]:
    return BookRepository(session).list(limit=limit, offset=offset)
