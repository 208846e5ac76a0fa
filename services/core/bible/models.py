"""The story bible's tables: entities, the names they go by, mentions per chapter, facts with
their quotes, and which text of each chapter was last extracted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow


class BibleEntity(Base):
    __tablename__ = "bible_entity"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # character | place | object | group
    name: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16))  # extracted | author
    # The author renamed, retyped or merged it: extraction no longer changes its shape.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # An extracted entity the author deleted: kept as a tombstone so that re-extraction does
    # not bring it back; hidden from every answer.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class BibleAlias(Base):
    """Every name an entity goes by, its canonical name included. `key` (the name folded, with
    its title class) is unique per book: one name belongs to one entity."""

    __tablename__ = "bible_alias"
    __table_args__ = (UniqueConstraint("book_id", "key", name="uq_bible_alias_book_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("bible_entity.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16))  # extracted | author


class BibleMention(Base):
    """How often one name occurs in one chapter: merging or splitting entities moves names, and
    their mentions follow."""

    __tablename__ = "bible_mention"

    alias_id: Mapped[int] = mapped_column(
        ForeignKey("bible_alias.id", ondelete="CASCADE"), primary_key=True
    )
    chapter_id: Mapped[str] = mapped_column(
        ForeignKey("chapter.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(Integer)


class BibleFact(Base):
    """An attribute or event of an entity from a chapter on, with its evidence:
    `quote == text of (chapter_id, revision)[quote_start:quote_end]`."""

    __tablename__ = "bible_fact"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("bible_entity.id", ondelete="CASCADE"), index=True
    )
    chapter_id: Mapped[str] = mapped_column(
        ForeignKey("chapter.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    attribute: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(500))
    story_time: Mapped[str | None] = mapped_column(String(120), nullable=True)
    quote: Mapped[str] = mapped_column(Text)
    quote_start: Mapped[int] = mapped_column(Integer)
    quote_end: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(16))  # extracted | author
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    intentional: Mapped[bool] = mapped_column(Boolean, default=False)
    # The author corrected it (value or attribute): re-extraction keeps it as it is.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # An extracted fact the author deleted: a tombstone, so re-extraction does not recreate it.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # What re-extraction compares to recognise the same fact: attribute, value and quote folded.
    signature: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BibleExtraction(Base):
    """Which text of a chapter was last extracted, and how: a re-run skips a chapter whose
    text and extractor are unchanged."""

    __tablename__ = "bible_extraction"

    chapter_id: Mapped[str] = mapped_column(
        ForeignKey("chapter.id", ondelete="CASCADE"), primary_key=True
    )
    book_id: Mapped[str] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    extractor_version: Mapped[str] = mapped_column(String(32))
    used_llm: Mapped[bool] = mapped_column(Boolean)
    entities: Mapped[int] = mapped_column(Integer, default=0)
    facts: Mapped[int] = mapped_column(Integer, default=0)
    dropped_quotes: Mapped[int] = mapped_column(Integer, default=0)
    extracted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
