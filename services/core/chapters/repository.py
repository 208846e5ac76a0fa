"""All SQL about chapters and revisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

    def titles(self, book_id: str, chapter_ids: set[str]) -> dict[str, tuple[str, int]]:
        """Title and position of these chapters of the book (absent ids are left out): what a
        search hit shows, without loading every chapter of a long book."""
        if not chapter_ids:
            return {}
        stmt = select(Chapter.id, Chapter.title, Chapter.position).where(
            Chapter.book_id == book_id, Chapter.id.in_(sorted(chapter_ids))
        )
        return {row.id: (row.title, row.position) for row in self.session.execute(stmt)}

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

    def mark_indexed(self, chapter_id: str, content_hash: str, index_format: int) -> bool:
        """Record what memory holds, unless the chapter changed meanwhile (it will be re-indexed)."""
        stmt = (
            update(Chapter)
            .where(Chapter.id == chapter_id, Chapter.content_hash == content_hash)
            # Memory bookkeeping is not an edit: updated_at stays (a restored book stays equal
            # to its archive once reindexed).
            .values(
                indexed_hash=content_hash,
                index_format=index_format,
                updated_at=Chapter.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def forget_indexing(self, book_id: str | None) -> None:
        """After memory was deleted: the next reindex must rebuild these chapters."""
        stmt = update(Chapter).values(indexed_hash=None, updated_at=Chapter.updated_at)
        if book_id is not None:
            stmt = stmt.where(Chapter.book_id == book_id)
        self.session.execute(stmt.execution_options(synchronize_session=False))

    def set_summary(self, chapter_id: str, content_hash: str, summary: str) -> bool:
        stmt = (
            update(Chapter)
            .where(Chapter.id == chapter_id, Chapter.content_hash == content_hash)
            .values(summary=summary)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def set_metadata(self, chapter_id: str, content_hash: str, metadata: dict[str, Any]) -> bool:
        stmt = (
            update(Chapter)
            .where(Chapter.id == chapter_id, Chapter.content_hash == content_hash)
            .values(meta=metadata)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def revisions(self, chapter_id: str) -> Sequence[ChapterRevision]:
        stmt = (
            select(ChapterRevision)
            .where(ChapterRevision.chapter_id == chapter_id)
            .order_by(ChapterRevision.number)
        )
        return self.session.scalars(stmt).all()
