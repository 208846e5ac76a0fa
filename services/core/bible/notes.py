"""Notes about an entity that are not quotes from the book: the text of a lorebook entry the
author imported, for instance. A fact must quote the chapter verbatim; a note need not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.core.db import Base, utcnow


class BibleNote(Base):
    __tablename__ = "bible_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("bible_entity.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    # Where it came from: "json", "sillytavern", "novelai" or "author".
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def notes_of_book(session: Session, book_id: str) -> dict[str, list[BibleNote]]:
    """entity id -> its notes, oldest first."""
    stmt = select(BibleNote).where(BibleNote.book_id == book_id).order_by(BibleNote.id)
    out: dict[str, list[BibleNote]] = {}
    for note in session.scalars(stmt):
        out.setdefault(note.entity_id, []).append(note)
    return out
