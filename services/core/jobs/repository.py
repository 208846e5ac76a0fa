"""All SQL about jobs, including the lease that keeps a job on exactly one worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.orm import Session

from services.core.db import utcnow
from services.core.jobs import outbox
from services.core.jobs.kinds import JOB_KINDS
from services.core.jobs.models import Job
from services.core.jobs.queues import Queue

NEXT_SUFFIX = ":next"
ENDED = ("succeeded", "failed", "cancelled")


def job_queue(job: Job) -> Queue:
    """The queue the job was sent to (its kind's, unless the submitter chose another)."""
    return Queue(job.queue) if job.queue else JOB_KINDS[job.kind].queue


def _not_waiting_behind_another() -> Any:
    # A `:next` job waits, unsent, for the pending job of its chapter or book to end.
    return or_(Job.pending_key.is_(None), not_(Job.pending_key.like(f"%{NEXT_SUFFIX}")))


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, job: Job) -> Job:
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.session.get(Job, job_id)

    def by_idempotency_key(self, key: str) -> Job | None:
        return self.session.scalars(select(Job).where(Job.idempotency_key == key)).first()

    # --- coalescing (services.core.jobs.submission) ---------------------------------------

    def by_pending_key(self, key: str) -> Job | None:
        stmt = select(Job).where(Job.pending_key == key).execution_options(populate_existing=True)
        return self.session.scalars(stmt).first()

    def merge_into_queued(
        self, job_id: str, key: str, params: dict[str, Any], queue: Queue
    ) -> bool:
        """Widen a queued job to cover another request; False if it started or ended meanwhile."""
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.pending_key == key)
            .values(params=params, queue=queue.value)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def hold_pending(self, job_id: str, key: str) -> bool:
        """Lock the pending job's row until commit (a no-op write) if it is still pending: its
        end, which lets the job queued after it go, then sees what this transaction adds."""
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.status.in_(("queued", "running")), Job.pending_key == key)
            .values(progress=Job.progress)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def _release(self, key: str | None) -> None:
        """A pending job ended: the job queued to run after it (if any) takes its place and is
        noted for sending after the commit."""
        if not key or key.endswith(NEXT_SUFFIX):
            return
        waiting = self.by_pending_key(key + NEXT_SUFFIX)
        if waiting is None or waiting.status != "queued":
            return
        self.session.execute(
            update(Job)
            .where(Job.id == waiting.id, Job.pending_key == key + NEXT_SUFFIX)
            .values(pending_key=key)
            .execution_options(synchronize_session=False)
        )
        outbox.note(self.session, waiting.id, job_queue(waiting))

    def page(
        self,
        *,
        book_id: str | None,
        status: str | None,
        kind: str | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Job], int]:
        filters = []
        if book_id is not None:
            filters.append(Job.book_id == book_id)
        if status is not None:
            filters.append(Job.status == status)
        if kind is not None:
            filters.append(Job.kind == kind)
        where = and_(*filters) if filters else and_(True)
        total = int(self.session.scalar(select(func.count()).select_from(Job).where(where)) or 0)
        stmt = (
            select(Job)
            .where(where)
            .order_by(Job.created_at.desc(), Job.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(stmt).all(), total

    def claim(self, job_id: str, worker_id: str, lease_s: float) -> bool:
        """Take the job if it is queued or its holder's lease expired; atomic across workers."""
        now = utcnow()
        stmt = (
            update(Job)
            .where(
                Job.id == job_id,
                or_(
                    Job.status == "queued",
                    and_(
                        Job.status == "running", Job.heartbeat_at < now - timedelta(seconds=lease_s)
                    ),
                ),
            )
            .values(
                status="running",
                message="Started",
                worker_id=worker_id,
                heartbeat_at=now,
                started_at=func.coalesce(Job.started_at, now),
                attempts=Job.attempts + 1,
                error=None,
            )
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def renew(self, job_id: str, worker_id: str, progress: float, message: str) -> bool:
        """Heartbeat plus the latest progress; False when the job was cancelled or taken over."""
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(heartbeat_at=utcnow(), progress=progress, message=message[:500])
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def finish(
        self,
        job_id: str,
        *,
        status: str,
        worker_id: str | None = None,
        message: str = "",
        result: dict[str, Any] | None = None,
        error: str | None = None,
        from_statuses: Sequence[str] = ("running",),
    ) -> bool:
        """Move to a final (or back to queued) state, fenced by the current holder. A job that
        ends gives up its coalescing key to the job waiting behind it (see `_release`)."""
        ending = status in ENDED
        key = (
            self.session.scalar(select(Job.pending_key).where(Job.id == job_id)) if ending else None
        )
        conditions = [Job.id == job_id, Job.status.in_(from_statuses)]
        if worker_id is not None:
            conditions.append(Job.worker_id == worker_id)
        values: dict[str, Any] = {"status": status, "message": message[:500]}
        if ending:
            values["finished_at"] = utcnow()
            values["pending_key"] = None
        if status == "succeeded":
            values["progress"] = 1.0
        if status == "queued":
            values["worker_id"] = None
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = error[:4000]
        stmt = update(Job).where(*conditions).values(**values)
        done = bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        if done and ending:
            self._release(key)
        return done

    # --- fan-out: a parent job (reindex_book) and the per-chapter jobs it created ----------

    def children(self, parent_id: str) -> Sequence[Job]:
        return self.session.scalars(select(Job).where(Job.parent_id == parent_id)).all()

    def active_of_kind(self, book_id: str, kind: str) -> Sequence[Job]:
        stmt = select(Job).where(
            Job.book_id == book_id, Job.kind == kind, Job.status.in_(("queued", "running"))
        )
        return self.session.scalars(stmt).all()

    def wait_for_children(
        self, job_id: str, worker_id: str, result: dict[str, Any], message: str
    ) -> bool:
        """The parent lets go of its worker and waits, still `running`, for its children.

        Its heartbeat is cleared: the stale-lease scan (`heartbeat_at < cutoff`) and `claim`
        never match a NULL heartbeat, so no worker takes a waiting parent over; the last child
        finishes it (`settle_parent`).
        """
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.worker_id == worker_id)
            .values(worker_id=None, heartbeat_at=None, result=result, message=message[:500])
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def lock_running(self, job_id: str) -> Job | None:
        """The running job, with its row locked until commit (a no-op write: a row lock on
        PostgreSQL, the database write lock on SQLite), so the children that end at the same
        time settle their parent one after the other and exactly one of them finishes it."""
        locked = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running")
            .values(progress=Job.progress)
            .execution_options(synchronize_session=False)
        )
        if not locked.rowcount:  # type: ignore[attr-defined]
            return None
        stmt = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        return self.session.scalars(stmt).first()

    def child_counts(self, parent_id: str) -> dict[str, int]:
        stmt = (
            select(Job.status, func.count()).where(Job.parent_id == parent_id).group_by(Job.status)
        )
        return {status: int(n) for status, n in self.session.execute(stmt).all()}

    def failed_children(self, parent_id: str, limit: int = 20) -> Sequence[Job]:
        stmt = (
            select(Job)
            .where(Job.parent_id == parent_id, Job.status == "failed")
            .order_by(Job.finished_at)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def set_progress(
        self, job_id: str, progress: float, message: str, result: dict[str, Any] | None = None
    ) -> None:
        values: dict[str, Any] = {"progress": progress, "message": message[:500]}
        if result is not None:
            values["result"] = result
        self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def cancel_children(self, parent_id: str, message: str) -> int:
        """Queued children never start; running ones stop at their next heartbeat."""
        active = Job.parent_id == parent_id, Job.status.in_(("queued", "running"))
        keys = list(self.session.scalars(select(Job.pending_key).where(*active)))
        stmt = (
            update(Job)
            .where(*active)
            .values(
                status="cancelled", message=message[:500], finished_at=utcnow(), pending_key=None
            )
            .execution_options(synchronize_session=False)
        )
        cancelled = int(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        for key in keys:
            self._release(key)
        return cancelled

    # --- metrics (read at every scrape, so only small columns) ----------------------------

    def counts_by_kind_and_status(self) -> list[tuple[str, str, int]]:
        stmt = select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        return [(kind, status, int(n)) for kind, status, n in self.session.execute(stmt).all()]

    def queued_backlog(self) -> list[tuple[str, str | None, int, datetime]]:
        """(kind, queue column, how many, oldest created_at) of the jobs waiting for a worker;
        a job queued to run after another is not waiting for a worker yet."""
        stmt = (
            select(Job.kind, Job.queue, func.count(), func.min(Job.created_at))
            .where(Job.status == "queued", _not_waiting_behind_another())
            .group_by(Job.kind, Job.queue)
        )
        return [(k, q, int(n), oldest) for k, q, n, oldest in self.session.execute(stmt).all()]

    def ended_durations(self) -> list[tuple[str, str, float]]:
        """(kind, final status, seconds from start to end) of every job that started and ended.
        Computed here rather than in SQL: date arithmetic differs between SQLite and PostgreSQL."""
        stmt = select(Job.kind, Job.status, Job.started_at, Job.finished_at).where(
            Job.started_at.is_not(None), Job.finished_at.is_not(None)
        )
        return [
            (kind, status, max(0.0, (finished - started).total_seconds()))
            for kind, status, started, finished in self.session.execute(stmt).all()
            if started is not None and finished is not None
        ]

    def long_queued(self, older_than: datetime, limit: int = 1000) -> Sequence[Job]:
        """Queued since before `older_than` and not re-sent since (`heartbeat_at` of a queued job
        is when the recovery scan last sent it again)."""
        stmt = (
            select(Job)
            .where(
                Job.status == "queued",
                Job.created_at < older_than,
                or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < older_than),
                _not_waiting_behind_another(),
            )
            .order_by(Job.created_at)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def mark_resent_if_queued(self, job_id: str, older_than: datetime) -> bool:
        """Only the scanner whose update wins sends a lost job again."""
        stmt = (
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == "queued",
                or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < older_than),
            )
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def stale_running(self, older_than: datetime) -> Sequence[Job]:
        stmt = select(Job).where(Job.status == "running", Job.heartbeat_at < older_than)
        return self.session.scalars(stmt).all()

    def requeue_if_stale(self, job_id: str, older_than: datetime) -> bool:
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.heartbeat_at < older_than)
            .values(
                status="queued",
                worker_id=None,
                message="The worker running this job stopped; it was queued again",
            )
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]
