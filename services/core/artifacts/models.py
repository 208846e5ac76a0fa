"""The `artifact` table: suggestions, critiques, ideas and scenes produced by jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow


class Artifact(Base):
    __tablename__ = "artifact"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # One artifact per job: a job that runs twice cannot leave two.
    job_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    book_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    chapter_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
