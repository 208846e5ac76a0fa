"""The `chapter` and `chapter_revision` tables: a chapter's text lives only in its revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow
from services.core.memory.chunking import INDEX_FORMAT


class Chapter(Base):
    __tablename__ = "chapter"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    indexed_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # memory.chunking.INDEX_FORMAT the chapter was indexed with (None: before it was recorded).
    index_format: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @property
    def in_memory(self) -> bool:
        """Memory holds this text of the chapter, cut into passages the current way."""
        return self.indexed_hash == self.content_hash and self.index_format == INDEX_FORMAT


class ChapterRevision(Base):
    __tablename__ = "chapter_revision"
    __table_args__ = (UniqueConstraint("chapter_id", "number", name="uq_chapter_revision_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chapter_id: Mapped[str] = mapped_column(
        ForeignKey("chapter.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="author")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
