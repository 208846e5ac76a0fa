"""What an archive holds, as plain JSON records: one pydantic model per catalog row.

Validating an archive's JSON through these models is what keeps a hand-edited or hostile archive
from putting an unsafe id (ids become file names), an oversized title or a wrong type into the
catalog. Indexing state (`indexed_hash`, `index_format`) is left out on purpose: it describes
the memory of the install the archive came from, not the book; a restore reindexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.core.ids import ID_PATTERN


def naive_utc(value: datetime) -> datetime:
    """The catalog keeps naive UTC; an archive says the offset."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat() if value.tzinfo is None else value.isoformat()


Timestamp = Annotated[datetime, AfterValidator(naive_utc)]
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


class _Record(BaseModel):
    # Unknown fields are refused: a field this version does not know would be silently lost.
    model_config = ConfigDict(extra="forbid")


class BookRecord(_Record):
    id: Id
    title: str = Field(min_length=1, max_length=300)
    language: str = Field(min_length=1, max_length=16)
    genre: str | None = Field(default=None, max_length=120)
    synopsis: str | None = Field(default=None, max_length=20_000)
    created_at: Timestamp
    updated_at: Timestamp


class RevisionRecord(_Record):
    number: int = Field(ge=1, le=2_000_000_000)
    title: str = Field(min_length=1, max_length=300)
    source: str = Field(min_length=1, max_length=16)
    created_at: Timestamp
    # The text is not here but in its own Markdown member (`text`), readable on its own.
    text: str = Field(description="Name of the member holding the revision's text")


class ChapterRecord(_Record):
    id: Id
    position: int = Field(ge=1, le=2_000_000_000)
    title: str = Field(min_length=1, max_length=300)
    current_revision: int = Field(ge=1, le=2_000_000_000)
    word_count: int = Field(ge=0)
    content_hash: str = Field(max_length=64)
    summary: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp
    revisions: list[RevisionRecord] = Field(min_length=1)


class ArtifactRecord(_Record):
    id: Id
    job_id: str = Field(pattern=ID_PATTERN, max_length=36)
    kind: str = Field(min_length=1, max_length=32)
    chapter_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    title: str = Field(default="", max_length=300)
    text: str = ""
    data: dict[str, Any] | None = None
    file_name: str | None = Field(default=None, max_length=300)
    created_at: Timestamp


class BibleAliasRecord(_Record):
    name: str = Field(min_length=1, max_length=200)
    origin: str = Field(min_length=1, max_length=16)
    mentions: dict[Id, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Chapter id -> how often the name occurs there"
    )


class BibleNoteRecord(_Record):
    text: str = Field(min_length=1, max_length=20_000)
    source: str = Field(min_length=1, max_length=32)
    created_at: Timestamp


class BibleEntityRecord(_Record):
    id: Id
    kind: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=200)
    origin: str = Field(min_length=1, max_length=16)
    edited: bool = False
    deleted: bool = False
    created_at: Timestamp
    updated_at: Timestamp
    aliases: list[BibleAliasRecord] = Field(default_factory=list)
    notes: list[BibleNoteRecord] = Field(
        default_factory=list, description="Notes that quote no chapter (imported lorebook text)"
    )


class BibleFactRecord(_Record):
    id: Id
    entity_id: Id
    chapter_id: Id
    revision: int = Field(ge=1, le=2_000_000_000)
    attribute: str = Field(min_length=1, max_length=60)
    value: str = Field(min_length=1, max_length=500)
    story_time: str | None = Field(default=None, max_length=120)
    quote: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    origin: str = Field(min_length=1, max_length=16)
    pinned: bool = False
    intentional: bool = False
    edited: bool = False
    deleted: bool = False
    signature: str = Field(max_length=64)
    created_at: Timestamp


class BibleExtractionRecord(_Record):
    chapter_id: Id
    content_hash: str = Field(max_length=64)
    revision: int = Field(ge=1, le=2_000_000_000)
    extractor_version: str = Field(max_length=32)
    used_llm: bool
    entities: int = Field(ge=0)
    facts: int = Field(ge=0)
    dropped_quotes: int = Field(ge=0)
    extracted_at: Timestamp


class BibleRecord(_Record):
    entities: list[BibleEntityRecord] = Field(default_factory=list)
    facts: list[BibleFactRecord] = Field(default_factory=list)
    extractions: list[BibleExtractionRecord] = Field(default_factory=list)


class ContinuityCitationRecord(_Record):
    chapter_id: Id
    chapter_position: int = Field(ge=1, le=2_000_000_000)
    chapter_title: str = Field(min_length=1, max_length=300)
    revision: int = Field(ge=1, le=2_000_000_000)
    quote: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class ContinuityFindingRecord(_Record):
    id: Id
    signature: str = Field(min_length=1, max_length=64)
    type: Literal["fact", "timeline", "characterisation", "world_rule"]
    severity: Literal["low", "medium", "high"]
    explanation: str = Field(max_length=5_000)
    entity: str | None = Field(default=None, max_length=200)
    attribute: str | None = Field(default=None, max_length=60)
    status: Literal["open", "fix", "ignore", "intentional"]
    citations: list[ContinuityCitationRecord] = Field(min_length=2, max_length=20)
    created_at: Timestamp
    updated_at: Timestamp


class ContinuityDigestRecord(_Record):
    chapter_id: Id
    content_hash: str = Field(max_length=64)
    revision: int = Field(ge=1, le=2_000_000_000)
    audited_at: Timestamp


class ContinuityRecord(_Record):
    findings: list[ContinuityFindingRecord] = Field(default_factory=list)
    digests: list[ContinuityDigestRecord] = Field(default_factory=list)
