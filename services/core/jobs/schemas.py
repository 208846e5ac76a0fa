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
