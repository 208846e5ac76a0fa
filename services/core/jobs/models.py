"""The `job` table: the durable truth about every background job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, utcnow


class Job(Base):
    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(500), default="")
    book_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    chapter_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set on the per-chapter jobs of a fan-out job (reindex_book); the last of them to end
    # finishes the parent.
    parent_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    # The queue the job was sent to (NULL: its kind's queue); kept so that recovery sends a
    # job again to the same queue, e.g. an author's chapter to the urgent index queue.
    queue: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Coalescing (services.core.jobs.submission): set while the job is queued or running to
    # `<kind>:<chapter or book>` (or that plus `:next` for the one job waiting for the pending
    # one to end), cleared when it ends. Unique, so two API processes racing cannot both
    # create one; NULLs do not collide on SQLite or PostgreSQL.
    pending_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    # Lease: the worker that holds the job renews heartbeat_at; a stale lease means the worker died.
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
