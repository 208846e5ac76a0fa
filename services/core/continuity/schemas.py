"""What the continuity audit answers over HTTP and in its job result (BIBLE_CONTRACT.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FindingType = Literal["fact", "timeline", "characterisation", "world_rule"]
Severity = Literal["low", "medium", "high"]
Status = Literal["open", "fix", "ignore", "intentional"]
Mark = Literal["fix", "ignore", "intentional", "open"]


class CitationOut(BaseModel):
    chapter_id: str
    chapter_position: int
    chapter_title: str
    revision: int
    quote: str
    start: int
    end: int


class FindingOut(BaseModel):
    id: str
    type: FindingType
    severity: Severity
    explanation: str
    entity: str | None
    attribute: str | None
    status: Status
    citations: list[CitationOut]


class FindingPage(BaseModel):
    items: list[FindingOut]
    total: int


class FindingMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Mark = Field(description="fix, ignore or intentional (open takes the mark back)")
