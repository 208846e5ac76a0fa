"""All SQL about books."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.books.models import Book


class BookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, book: Book) -> Book:
        self.session.add(book)
        self.session.flush()
        return book

    def get(self, book_id: str) -> Book | None:
        return self.session.get(Book, book_id)

    def list(self, limit: int = 100, offset: int = 0) -> Sequence[Book]:
        stmt = select(Book).order_by(Book.created_at, Book.id).limit(limit).offset(offset)
        return self.session.scalars(stmt).all()
