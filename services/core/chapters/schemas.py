"""Request and response shapes for chapters and their revisions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.core.db import UtcDatetime
from services.core.ids import ID_PATTERN


def _strip_title(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("title must not be blank")
    return value.strip()


class ChapterSave(BaseModel):
    book_id: str = Field(pattern=ID_PATTERN, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(description="Chapter text (Markdown or plain text)")
    position: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Defaults to the end of the book"
    )

    _title = field_validator("title")(_strip_title)


class ChapterUpdate(BaseModel):
    book_id: str = Field(pattern=ID_PATTERN, max_length=64)
    chapter_id: str = Field(pattern=ID_PATTERN, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    text: str | None = None
    expected_revision: int | None = Field(
        default=None,
        ge=1,
        le=2_000_000_000,
        description="Answer 409 if the chapter moved past this revision",
    )

    _title = field_validator("title")(_strip_title)


class ChapterSaved(BaseModel):
    book_id: str
    chapter_id: str
    revision: int
    title: str
    word_count: int
    file: str
    index_job_id: str | None = Field(
        default=None, description="The job re-indexing this chapter into memory"
    )


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    title: str
    source: str
    created_at: UtcDatetime
    word_count: int = 0
    text: str | None = None


class ChapterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    book_id: str
    position: int
    title: str
    current_revision: int
    word_count: int
    content_hash: str
    summary: str | None
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="meta")
    in_memory: bool = Field(
        description="Memory holds this revision, indexed the current way; false while its "
        "indexing job runs, or for a chapter indexed by an older version: reindex the book"
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ChapterDetail(ChapterOut):
    text: str
    revisions: list[RevisionOut]


class ChapterMetadataOut(BaseModel):
    chapter_id: str
    position: int
    title: str
    metadata: dict[str, Any]
    summary: str | None
    indexed: bool = Field(description="Memory holds this revision (see `in_memory`)")


class BookMetadataOut(BaseModel):
    book_id: str
    title: str
    language: str
    genre: str | None
    chapters: list[ChapterMetadataOut]
