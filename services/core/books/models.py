"""The `book` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow


class Book(Base):
    __tablename__ = "book"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(16), default="pt-BR")
    genre: Mapped[str | None] = mapped_column(String(120), nullable=True)
    synopsis: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # Set when the author deletes the book: it waits in the trash (hidden, 404 to normal reads)
    # until restored or purged (after TRASH_DAYS). None: a live book.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
