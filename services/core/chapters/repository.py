"""All SQL about chapters and revisions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.core.chapters.models import Chapter, ChapterRevision


class ChapterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, chapter_id: str, *, for_update: bool = False) -> Chapter | None:
        if for_update:
            # A no-op write takes the row lock (PostgreSQL) or the write lock (SQLite, whose
            # SELECT ... FOR UPDATE does nothing) before we read the current revision, so
            # concurrent overwrites queue up instead of picking the same next number.
            self.session.execute(
                update(Chapter)
                .where(Chapter.id == chapter_id)
                .values(current_revision=Chapter.current_revision)
                .execution_options(synchronize_session=False)
            )
        stmt = select(Chapter).where(Chapter.id == chapter_id)
        if for_update:
            stmt = stmt.execution_options(populate_existing=True)
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
