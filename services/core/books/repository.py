"""All SQL about books."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
        """Live or in the trash: callers decide what a trashed book means to them."""
        return self.session.get(Book, book_id)

    def list(self, limit: int = 100, offset: int = 0) -> Sequence[Book]:
        """Live books only: the trash has its own listing."""
        stmt = (
            select(Book)
            .where(Book.deleted_at.is_(None))
            .order_by(Book.created_at, Book.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(stmt).all()

    def list_trashed(self, *, deleted_before: datetime | None = None) -> Sequence[Book]:
        """Books in the trash, most recently deleted first (only those deleted before a time)."""
        stmt = select(Book).where(Book.deleted_at.is_not(None))
        if deleted_before is not None:
            stmt = stmt.where(Book.deleted_at < deleted_before)
        return self.session.scalars(stmt.order_by(Book.deleted_at.desc(), Book.id)).all()

    def count(self) -> int:
        """Every book, trashed ones too (an install is empty only without any)."""
        return len(self.session.scalars(select(Book.id)).all())
