"""Creating, listing and cancelling jobs; the request boundary commits, then enqueues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.core.books.service import get_book
from services.core.chapters.service import get_chapter
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.ids import new_uuid
from services.core.jobs.fanout import settle_parent
from services.core.jobs.kinds import JOB_KINDS, valid_kinds
from services.core.jobs.models import Job
from services.core.jobs.repository import JobRepository
from services.core.jobs.schemas import TERMINAL_STATUSES, JobCreate, JobOut


class JobDispatcher(Protocol):
    """Sends a committed job to the workers (Celery in production)."""

    def dispatch(self, job_id: str, queue: str) -> None: ...


def job_snapshot(job: Job) -> dict[str, Any]:
    out = JobOut.model_validate(job)
    if job.started_at and job.finished_at:
        out.duration_s = round((job.finished_at - job.started_at).total_seconds(), 3)
    return out.model_dump(mode="json")


def _format_validation_error(kind: str, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}" for err in exc.errors()
    )
    return f"invalid params for {kind!r}: {problems}"


def create_job(
    session: Session, request: JobCreate, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Validate and insert the job row. Returns (job, created); an existing key returns its job."""
    repo = JobRepository(session)
    if idempotency_key is not None:
        existing = repo.by_idempotency_key(idempotency_key)
        if existing is not None:
            return existing, False
    kind = JOB_KINDS.get(request.kind)
    if kind is None:
        raise InvalidInput(
            f"unknown job kind {request.kind!r}; valid kinds: {', '.join(valid_kinds())}"
        )
    try:
        params = kind.params.model_validate(request.params).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise InvalidInput(_format_validation_error(kind.name, exc)) from exc
    if kind.needs_book and request.book_id is None:
        raise InvalidInput(f"job kind {kind.name!r} needs a book_id")
    stand_in = kind.chapter_or_param
    if kind.needs_chapter and request.chapter_id is None and not (stand_in and stand_in in params):
        alternative = f" or params.{stand_in}" if stand_in else ""
        raise InvalidInput(f"job kind {kind.name!r} needs a chapter_id{alternative}")
    if request.book_id is not None:
        get_book(session, request.book_id)
    if request.chapter_id is not None:
        get_chapter(session, request.chapter_id, book_id=request.book_id)
    job = Job(
        id=new_uuid(),
        kind=kind.name,
        status="queued",
        progress=0.0,
        message="Queued",
        book_id=request.book_id,
        chapter_id=request.chapter_id,
        params=params,
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            repo.add(job)
    except IntegrityError:
        # Two requests raced with the same key: the other one won, answer with its job.
        if idempotency_key is not None:
            existing = repo.by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing, False
        raise
    return job, True


def queue_for(job: Job) -> str:
    return JOB_KINDS[job.kind].queue


def get_job(session: Session, job_id: str) -> Job:
    job = JobRepository(session).get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found")
    return job


def list_jobs(
    session: Session,
    *,
    book_id: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Job], int]:
    return JobRepository(session).page(
        book_id=book_id, status=status, kind=kind, limit=limit, offset=offset
    )


def cancel_job(session: Session, job_id: str, message: str = "Cancelled by the user") -> Job:
    """Queued jobs never start; a running job stops at its next heartbeat. Cancelling a fan-out
    job cancels the children it still had; a cancelled child counts as ended for its parent."""
    job = get_job(session, job_id)
    if job.status in TERMINAL_STATUSES:
        raise Conflict(f"job {job_id!r} already {job.status}; only queued or running jobs cancel")
    repo = JobRepository(session)
    repo.finish(job_id, status="cancelled", message=message, from_statuses=("queued", "running"))
    repo.cancel_children(job_id, "Cancelled with the job that created it")
    if job.parent_id:
        settle_parent(session, job.parent_id)
    session.refresh(job)
    return job


def fail_undispatched(session: Session, job_id: str, reason: str) -> None:
    JobRepository(session).finish(
        job_id,
        status="failed",
        message="Could not be queued",
        error=reason,
        from_statuses=("queued",),
    )
