"""Inspecting, listing and cancelling jobs. Creating them: `services.core.jobs.submission`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from services.core.db import utcnow
from services.core.errors import Conflict, NotFound
from services.core.jobs.fanout import settle_parent
from services.core.jobs.kinds import JOB_KINDS
from services.core.jobs.models import Job
from services.core.jobs.queues import ALL_QUEUES, Queue
from services.core.jobs.repository import JobRepository, job_queue
from services.core.jobs.schemas import TERMINAL_STATUSES, Backlog, QueueBacklog
from services.core.jobs.submission import (
    JobDispatcher,
    JobSubmitter,
    Submitted,
    create_job,
    fail_undispatched,
    job_snapshot,
)

__all__ = [
    "JobDispatcher",
    "JobSubmitter",
    "Submitted",
    "backlog",
    "cancel_job",
    "create_job",
    "fail_undispatched",
    "get_job",
    "job_snapshot",
    "list_jobs",
    "queue_for",
]


def queue_for(job: Job) -> Queue:
    return job_queue(job)


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
    job cancels the children it still had; a cancelled child counts as ended for its parent.
    What the cancel lets go (a job queued after this one, a parent's next children) is noted in
    the outbox: use `cancel_and_send` outside a transaction."""
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


def cancel_and_send(submitter: JobSubmitter, job_id: str) -> dict[str, Any]:
    """Cancel in one transaction, then send the jobs the cancel let go; the job's snapshot."""
    snapshot, follow_ups = submitter.run(lambda s: job_snapshot(cancel_job(s, job_id)))
    submitter.send(follow_ups)
    return snapshot


def backlog(session: Session, depths: Mapping[str, int] | None = None) -> Backlog:
    """Per queue: how many jobs wait for a worker and how long the oldest has waited (from the
    catalog, so every API replica answers alike), plus the broker's depth when given."""
    now = utcnow()
    counts: dict[str, int] = {q.value: 0 for q in ALL_QUEUES}
    oldest: dict[str, float] = {}
    for kind, queue, n, first in JobRepository(session).queued_backlog():
        name = Queue(queue).value if queue else JOB_KINDS[kind].queue.value
        counts[name] = counts.get(name, 0) + n
        age = max(0.0, (now - first).total_seconds())
        oldest[name] = max(oldest.get(name, 0.0), age)
    queues = {
        name: QueueBacklog(
            queued=n,
            oldest_age_s=round(oldest[name], 1) if name in oldest else None,
            depth=None if depths is None else depths.get(name),
        )
        for name, n in sorted(counts.items())
    }
    return Backlog(queued=sum(counts.values()), queues=queues)
