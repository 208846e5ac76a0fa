"""Response shapes for artifacts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from services.core.db import UtcDatetime


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    job_id: str
    kind: str
    book_id: str | None
    chapter_id: str | None
    title: str
    text: str
    data: dict[str, Any] | None
    file_name: str | None
    created_at: UtcDatetime
