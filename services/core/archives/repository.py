"""All SQL of archives and the trash: every row of one book, read or deleted together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.core.artifacts.models import Artifact
from services.core.bible.repository import BibleRepository
from services.core.books.models import Book
from services.core.chapters.models import Chapter, ChapterRevision
from services.core.continuity.repository import ContinuityRepository
from services.core.jobs.models import Job


class BookRowsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def chapters(self, book_id: str) -> Sequence[Chapter]:
        stmt = select(Chapter).where(Chapter.book_id == book_id).order_by(Chapter.position)
        return self.session.scalars(stmt).all()

    def revisions(self, chapter_id: str) -> Sequence[ChapterRevision]:
        stmt = (
            select(ChapterRevision)
            .where(ChapterRevision.chapter_id == chapter_id)
            .order_by(ChapterRevision.number)
        )
        return self.session.scalars(stmt).all()

    def artifacts(self, book_id: str) -> Sequence[Artifact]:
        stmt = select(Artifact).where(Artifact.book_id == book_id).order_by(Artifact.id)
        return self.session.scalars(stmt).all()

    def existing_chapter_ids(self, ids: Sequence[str]) -> dict[str, str]:
        """chapter id -> its book, for those of `ids` already in the catalog."""
        if not ids:
            return {}
        stmt = select(Chapter.id, Chapter.book_id).where(Chapter.id.in_(ids))
        return {row[0]: row[1] for row in self.session.execute(stmt)}

    def existing_artifacts(self, ids: Sequence[str], job_ids: Sequence[str]) -> dict[str, str]:
        """artifact id -> its book, for artifacts that have one of these ids or job ids."""
        if not ids and not job_ids:
            return {}
        stmt = select(Artifact.id, Artifact.book_id).where(
            Artifact.id.in_(ids) | Artifact.job_id.in_(job_ids)
        )
        return {row[0]: row[1] or "" for row in self.session.execute(stmt)}

    def delete_book(self, book_id: str) -> None:
        """The book and everything of it in the catalog: its story bible, revisions, chapters,
        artifacts, jobs.

        Explicit deletes in dependency order rather than relying on ON DELETE CASCADE, which
        SQLite only honours with its foreign_keys pragma on."""
        BibleRepository(self.session).delete_book(book_id)
        ContinuityRepository(self.session).delete_book(book_id)
        chapter_ids = select(Chapter.id).where(Chapter.book_id == book_id).scalar_subquery()
        for stmt in (
            delete(ChapterRevision).where(ChapterRevision.chapter_id.in_(chapter_ids)),
            delete(Chapter).where(Chapter.book_id == book_id),
            delete(Artifact).where(Artifact.book_id == book_id),
            delete(Job).where(Job.book_id == book_id),
            delete(Book).where(Book.id == book_id),
        ):
            self.session.execute(stmt.execution_options(synchronize_session=False))
        self.session.expire_all()

    def set_deleted_at(self, book_id: str, value: datetime | None) -> None:
        """Into or out of the trash without touching `updated_at`: the book itself is unchanged,
        so one taken out of the trash is identical to the one put in."""
        stmt = (
            update(Book)
            .where(Book.id == book_id)
            .values(deleted_at=value, updated_at=Book.updated_at)
            .execution_options(synchronize_session=False)
        )
        self.session.execute(stmt)
        self.session.expire_all()
