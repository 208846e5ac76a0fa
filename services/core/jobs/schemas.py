"""Request and response shapes for jobs, and the parameters each job kind accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.core.ids import ID_PATTERN

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class JobCreate(BaseModel):
    kind: str = Field(max_length=32, description="Job kind, e.g. suggest")
    book_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    chapter_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    status: JobStatus
    progress: float
    message: str
    book_id: str | None
    chapter_id: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = None


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class SuggestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instructions: str | None = Field(
        default=None, max_length=4000, description="What the author wants from the suggestions"
    )
    paths: int = Field(default=3, ge=3, le=5, description="How many narrative paths to propose")
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class IndexChapterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="Rebuild even if the text is unchanged")
    summarize: bool = Field(default=True, description="Also write an LLM summary of the chapter")


class AskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    use_memory: bool = Field(default=True, description="Retrieve passages of the book first")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve")
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class IdeateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=3, ge=1, le=10, description="How many story ideas to propose")
    theme: str | None = Field(
        default=None, max_length=2000, description="A theme or direction the ideas should follow"
    )
    max_tokens: int | None = Field(default=None, ge=64, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class ExtractMetadataParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=64, le=8192)
    # Extraction wants the likeliest reading of the text, not variety.
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
