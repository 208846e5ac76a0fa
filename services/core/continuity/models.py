"""The continuity audit's tables: its findings (with the author's marks) and which text of each
chapter the last audit read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow


class ContinuityFinding(Base):
    """A conflict between passages. `signature` names what was found (the check, the entity,
    the attribute and the cited passages): a re-run that finds the same thing keeps the row and
    the author's mark; a changed passage gives a new signature, so a new finding."""

    __tablename__ = "continuity_finding"
    __table_args__ = (
        UniqueConstraint("book_id", "signature", name="uq_continuity_finding_book_signature"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    signature: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    explanation: Mapped[str] = mapped_column(Text)
    entity: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attribute: Mapped[str | None] = mapped_column(String(60), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # Citation dicts (chapter_id, chapter_position, chapter_title, revision, quote, start, end).
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The chapters it cites, "|"-joined, for the incremental re-run.
    chapter_ids: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ContinuityChapter(Base):
    """The digest of the chapter text the last audit read: a re-run audits only the pairs that
    touch a chapter whose digest changed."""

    __tablename__ = "continuity_chapter"

    chapter_id: Mapped[str] = mapped_column(
        ForeignKey("chapter.id", ondelete="CASCADE"), primary_key=True
    )
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    audited_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
