"""What a job handler receives: its job, the settings, the LLM, and a reporter for progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.core.config import Settings
from services.core.jobs.events import JobEventPublisher
from services.core.jobs.outbox import FollowUp
from services.core.llm.client import LLMClient
from services.core.memory.store import MemoryStore


class JobStopped(Exception):
    """The job was cancelled, or its lease passed to another worker: stop now, write nothing."""


class JobReporter:
    """Publishes progress and text deltas; the lease thread copies the latest progress to SQL."""

    PROGRESS_EVERY_S = 0.2
    # Text goes out at once for the first token (time-to-first-token), then in small batches:
    # one Redis write and one SSE event per ~40 ms instead of per token, which on a 2-core box
    # leaves the CPU to the LLM server.
    DELTA_EVERY_S = 0.04

    def __init__(self, job_id: str, publisher: JobEventPublisher) -> None:
        self.job_id = job_id
        self.publisher = publisher
        self.fraction = 0.0
        self.message = ""
        self.stopped = threading.Event()
        self._last_progress_at = 0.0
        self._pending: list[str] = []
        self._last_delta_at: float | None = None

    def check(self) -> None:
        if self.stopped.is_set():
            raise JobStopped(self.job_id)

    def progress(self, fraction: float, message: str, *, force: bool = True) -> None:
        self.check()
        fraction = max(self.fraction, min(1.0, fraction))  # progress never goes backwards
        self.fraction, self.message = fraction, message
        now = time.monotonic()
        # Stage changes go out at once; per-token updates at most every PROGRESS_EVERY_S.
        if force or now - self._last_progress_at >= self.PROGRESS_EVERY_S:
            self._last_progress_at = now
            self.flush()
            self.publisher.publish(
                self.job_id,
                {"type": "progress", "progress": round(fraction, 4), "message": message},
            )

    def delta(self, text: str) -> None:
        self.check()
        self._pending.append(text)
        now = time.monotonic()
        if self._last_delta_at is None or now - self._last_delta_at >= self.DELTA_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Publish the text held back; called before progress, and when the handler ends."""
        if self._pending:
            self._last_delta_at = time.monotonic()
            text, self._pending = "".join(self._pending), []
            self.publisher.publish(self.job_id, {"type": "delta", "text": text})

    def reset(self, reason: str) -> None:
        """Tells clients to drop the text streamed so far (a retry starts the generation anew)."""
        self._pending = []
        self.publisher.publish(self.job_id, {"type": "reset", "message": reason})


@dataclass
class ArtifactDraft:
    kind: str
    title: str
    text: str
    data: dict[str, Any] | None = None


@dataclass
class JobOutput:
    result: dict[str, Any]
    artifact: ArtifactDraft | None = None
    # Jobs the handler committed (e.g. indexing a chapter it saved): the runner sends them
    # after the job's own end is stored, whatever became of the job. The core never imports
    # Celery; the worker's dispatcher does the sending.
    follow_ups: list[FollowUp] = field(default_factory=list)
    # A fan-out job that created children: it stays `running` without a worker until the last
    # child finishes it (see `services.core.jobs.fanout`).
    await_children: bool = False


@dataclass
class JobContext:
    job_id: str
    kind: str
    book_id: str | None
    chapter_id: str | None
    params: dict[str, Any]
    settings: Settings
    sessions: sessionmaker[Session]
    llm: LLMClient
    reporter: JobReporter
    memory_factory: Callable[[], MemoryStore] | None = None

    @property
    def memory(self) -> MemoryStore:
        if self.memory_factory is None:
            raise RuntimeError("this worker has no memory store configured")
        return self.memory_factory()


# What a job kind runs on a worker (registered in services.core.composition).
Handler = Callable[[JobContext], JobOutput]
