"""All SQL about chapters and revisions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.chapters.models import Chapter, ChapterRevision


class ChapterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, chapter_id: str, *, for_update: bool = False) -> Chapter | None:
        stmt = select(Chapter).where(Chapter.id == chapter_id)
        if for_update:
            # Serialises concurrent updates on PostgreSQL; SQLite already serialises writers.
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def list_for_book(self, book_id: str) -> Sequence[Chapter]:
        stmt = select(Chapter).where(Chapter.book_id == book_id).order_by(Chapter.position)
        return self.session.scalars(stmt).all()

    def next_position(self, book_id: str) -> int:
        stmt = select(func.max(Chapter.position)).where(Chapter.book_id == book_id)
        return int(self.session.scalar(stmt) or 0) + 1

    def add(self, chapter: Chapter) -> Chapter:
        self.session.add(chapter)
        self.session.flush()
        return chapter

    def add_revision(self, revision: ChapterRevision) -> ChapterRevision:
        self.session.add(revision)
        self.session.flush()
        return revision

    def revision(self, chapter_id: str, number: int) -> ChapterRevision | None:
        stmt = select(ChapterRevision).where(
            ChapterRevision.chapter_id == chapter_id, ChapterRevision.number == number
        )
        return self.session.scalars(stmt).first()

    def revisions(self, chapter_id: str) -> Sequence[ChapterRevision]:
        stmt = (
            select(ChapterRevision)
            .where(ChapterRevision.chapter_id == chapter_id)
            .order_by(ChapterRevision.number)
        )
        return self.session.scalars(stmt).all()
