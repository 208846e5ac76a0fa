"""SQL of the continuity audit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.core.continuity.models import ContinuityChapter, ContinuityFinding


class ContinuityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def findings(
        self, book_id: str, *, status: str | None = None, type: str | None = None
    ) -> Sequence[ContinuityFinding]:
        stmt = select(ContinuityFinding).where(ContinuityFinding.book_id == book_id)
        if status is not None:
            stmt = stmt.where(ContinuityFinding.status == status)
        if type is not None:
            stmt = stmt.where(ContinuityFinding.type == type)
        return self.session.scalars(
            stmt.order_by(ContinuityFinding.created_at, ContinuityFinding.id)
        ).all()

    def finding(self, finding_id: str) -> ContinuityFinding | None:
        return self.session.get(ContinuityFinding, finding_id)

    def add(self, row: ContinuityFinding | ContinuityChapter) -> None:
        self.session.add(row)

    def remove(self, row: ContinuityFinding) -> None:
        self.session.delete(row)

    def digest_rows(self, book_id: str) -> Sequence[ContinuityChapter]:
        stmt = select(ContinuityChapter).where(ContinuityChapter.book_id == book_id)
        return self.session.scalars(stmt.order_by(ContinuityChapter.chapter_id)).all()

    def digests(self, book_id: str) -> dict[str, str]:
        return {row.chapter_id: row.content_hash for row in self.digest_rows(book_id)}

    def save_digest(self, book_id: str, chapter_id: str, content_hash: str, revision: int) -> None:
        row = self.session.get(ContinuityChapter, chapter_id)
        if row is None:
            self.session.add(
                ContinuityChapter(
                    chapter_id=chapter_id,
                    book_id=book_id,
                    content_hash=content_hash,
                    revision=revision,
                )
            )
        else:
            row.content_hash, row.revision = content_hash, revision

    def open_counts(self, book_id: str) -> int:
        stmt = select(func.count()).where(
            ContinuityFinding.book_id == book_id, ContinuityFinding.status == "open"
        )
        return int(self.session.scalar(stmt) or 0)

    def delete_book(self, book_id: str) -> None:
        for stmt in (
            delete(ContinuityFinding).where(ContinuityFinding.book_id == book_id),
            delete(ContinuityChapter).where(ContinuityChapter.book_id == book_id),
        ):
            self.session.execute(stmt.execution_options(synchronize_session=False))
