"""Runs one job on a worker: claim the lease, keep it alive, call the handler, store the outcome.

Safe to call twice for the same job id (a redelivered message, a recovered job): a finished job
is left alone, a job held by a live worker is skipped, and one artifact per job is enforced by
the catalog.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import redis
from sqlalchemy.orm import Session, sessionmaker

from services.core.artifacts.models import Artifact
from services.core.artifacts.repository import ArtifactRepository
from services.core.composition import FANOUT_SUMMARIES, JOB_HANDLERS
from services.core.config import Settings
from services.core.db import transaction, utcnow
from services.core.errors import DomainError
from services.core.files import ChapterFiles
from services.core.jobs import outbox
from services.core.jobs.context import JobContext, JobOutput, JobReporter, JobStopped
from services.core.jobs.events import JobEventPublisher
from services.core.jobs.fanout import ParentUpdate, settle_parent
from services.core.jobs.metrics import record_llm_usage
from services.core.jobs.outbox import FollowUp
from services.core.jobs.repository import JobRepository, job_queue
from services.core.jobs.schemas import TERMINAL_STATUSES
from services.core.jobs.submission import JobDispatcher, job_snapshot
from services.core.llm.client import LLMClient, LLMError, TransientLLMError
from services.core.logs import job_logging
from services.core.memory.store import MemoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    status: str  # succeeded | failed | cancelled | skipped | retry
    retry_in_s: float | None = None


@dataclass
class WorkerDeps:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis
    llm: LLMClient
    # Sends jobs that a handler created (e.g. indexing a chapter it saved) once they are committed.
    dispatcher: JobDispatcher | None = None
    _memory: MemoryStore | None = None
    _memory_lock: threading.Lock = field(default_factory=threading.Lock)

    def memory(self) -> MemoryStore:
        # Built on first use: loading the embedding model costs ~0.5 s and only some jobs need it.
        with self._memory_lock:
            if self._memory is None:
                self._memory = MemoryStore.from_settings(self.settings)
            return self._memory

    @property
    def publisher(self) -> JobEventPublisher:
        return JobEventPublisher(self.redis, self.settings.job_events_ttl_s)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class _Lease(threading.Thread):
    """Renews the job's heartbeat and copies progress to SQL; notices cancellation."""

    def __init__(self, deps: WorkerDeps, job_id: str, worker_id: str, reporter: JobReporter):
        super().__init__(name=f"lease-{job_id[:8]}", daemon=True)
        self.deps, self.job_id, self.worker_id, self.reporter = deps, job_id, worker_id, reporter
        self.done = threading.Event()
        # A new thread starts with an empty context: carry the job id of the log lines over.
        self._context = contextvars.copy_context()

    def run(self) -> None:
        self._context.run(self._beat)

    def _beat(self) -> None:
        while not self.done.wait(self.deps.settings.job_heartbeat_s):
            try:
                with transaction(self.deps.sessions) as session:
                    held = JobRepository(session).renew(
                        self.job_id, self.worker_id, self.reporter.fraction, self.reporter.message
                    )
            except Exception:  # a database hiccup must not kill the job; the next beat retries
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)
                continue
            if not held:
                self.reporter.stopped.set()
                return


def run_job(job_id: str, deps: WorkerDeps, max_attempts: int) -> RunOutcome:
    """Run the job; every line logged meanwhile, in any thread of it, carries its id."""
    with job_logging(job_id):
        started = time.monotonic()
        log.info("job %s: picked up", job_id)
        outcome = _run_job(job_id, deps, max_attempts)
        log.info("job %s: %s after %.2fs", job_id, outcome.status, time.monotonic() - started)
        return outcome


def _run_job(job_id: str, deps: WorkerDeps, max_attempts: int) -> RunOutcome:
    worker_id = worker_identity()
    publisher = deps.publisher
    with transaction(deps.sessions) as session:
        repo = JobRepository(session)
        job = repo.get(job_id)
        if job is None or job.status in TERMINAL_STATUSES:
            return RunOutcome("skipped")
        if not repo.claim(job_id, worker_id, deps.settings.job_lease_s):
            return RunOutcome("skipped")  # a live worker holds it
    with transaction(deps.sessions) as session:
        job = JobRepository(session).get(job_id)
        assert job is not None
        ctx_fields = (job.kind, job.book_id, job.chapter_id, dict(job.params), job.attempts)
        publisher.publish(job_id, {"type": "status", **job_snapshot(job)})
    kind, book_id, chapter_id, params, attempts = ctx_fields
    if attempts > max_attempts:
        # Only a worker that died mid-job (kill, OOM, crash) gets here: stop the crash loop.
        return _fail(
            deps,
            job_id,
            worker_id,
            f"gave up after {attempts - 1} attempts: the worker running this job stopped each time",
        )
    reporter = JobReporter(job_id, publisher)
    if attempts > 1:
        reporter.reset(f"Attempt {attempts}: starting again")
    ctx = JobContext(
        job_id=job_id,
        kind=kind,
        book_id=book_id,
        chapter_id=chapter_id,
        params=params,
        settings=deps.settings,
        sessions=deps.sessions,
        llm=deps.llm,
        reporter=reporter,
        memory_factory=deps.memory,
    )
    lease = _Lease(deps, job_id, worker_id, reporter)
    lease.start()
    try:
        output = JOB_HANDLERS[kind](ctx)
        reporter.check()
        reporter.flush()
    except JobStopped:
        return _stopped(deps, job_id)
    except TransientLLMError as exc:
        if attempts < max_attempts:
            delay = min(30.0, 2.0**attempts)
            message = f"LLM unavailable ({exc}); retrying in {delay:.0f}s (attempt {attempts}/{max_attempts})"
            _finish(deps, job_id, worker_id, "queued", message=message)
            reporter.reset(message)
            return RunOutcome("retry", retry_in_s=delay)
        return _fail(deps, job_id, worker_id, f"LLM unavailable after {attempts} attempts: {exc}")
    except (LLMError, DomainError) as exc:
        return _fail(deps, job_id, worker_id, str(exc))
    except Exception as exc:
        log.exception("job %s (%s) crashed", job_id, kind)
        return _fail(deps, job_id, worker_id, f"internal error: {type(exc).__name__}: {exc}")
    finally:
        lease.done.set()
    if output.await_children:
        outcome = _await_children(deps, job_id, worker_id, output)
    else:
        outcome = _succeed(deps, job_id, worker_id, output)
    # What the handler committed is sent whatever became of this job (cancelled meanwhile…).
    _send(deps, job_id, output.follow_ups)
    return outcome


def _artifact_id(job_id: str) -> str:
    # Derived from the job, so a second run of the same job writes the same file name.
    return job_id.replace("-", "")[:20]


def _succeed(deps: WorkerDeps, job_id: str, worker_id: str, output: JobOutput) -> RunOutcome:
    result = dict(output.result)
    draft = output.artifact
    with transaction(deps.sessions) as session:
        job = JobRepository(session).get(job_id)
        assert job is not None
        if draft is not None:
            artifacts = ArtifactRepository(session)
            artifact = artifacts.for_job(job_id)
            if artifact is None:
                artifact_id = _artifact_id(job_id)
                path = ChapterFiles(deps.settings.chapters_dir).write_artifact(
                    draft.kind, draft.title, artifact_id, draft.text
                )
                artifact = artifacts.add(
                    Artifact(
                        id=artifact_id,
                        job_id=job_id,
                        kind=draft.kind,
                        book_id=job.book_id,
                        chapter_id=job.chapter_id,
                        title=draft.title,
                        text=draft.text,
                        data=draft.data,
                        file_name=Path(path).name,
                    )
                )
            result["artifact_id"] = artifact.id
            result["file"] = artifact.file_name
        finished = JobRepository(session).finish(
            job_id, status="succeeded", worker_id=worker_id, message="Done", result=result
        )
        if not finished:
            session.rollback()
            return _stopped(deps, job_id)
        parent = _settle_parent_of(session, job.parent_id)
        kind = job.kind
        released = outbox.take(session)
    # Counted once: only the worker whose fenced finish won gets here.
    record_llm_usage(deps.redis, kind, result.get("receipt"))
    _send(deps, job_id, released)
    _publish_final(deps, job_id)
    _publish_parent(deps, parent)
    return RunOutcome("succeeded")


def _await_children(deps: WorkerDeps, job_id: str, worker_id: str, output: JobOutput) -> RunOutcome:
    """The handler created and sent its children: let go of the worker and wait for them (the
    children may all have ended already, then the parent finishes here)."""
    with transaction(deps.sessions) as session:
        repo = JobRepository(session)
        message = str(output.result.get("message", "Waiting for the chapters to be indexed"))
        if not repo.wait_for_children(job_id, worker_id, dict(output.result), message):
            session.rollback()
            return _stopped(deps, job_id)
        update = settle_parent(session, job_id, FANOUT_SUMMARIES)
        children = outbox.take(session)
    _send(deps, job_id, children)
    _publish_parent(deps, update)
    return RunOutcome("succeeded" if update is not None and update.finished else "waiting")


def _settle_parent_of(session: Session, parent_id: str | None) -> ParentUpdate | None:
    return settle_parent(session, parent_id, FANOUT_SUMMARIES) if parent_id else None


def _publish_parent(deps: WorkerDeps, update: ParentUpdate | None) -> None:
    if update is None:
        return
    if update.finished:
        _publish_final(deps, update.parent_id)
    else:
        deps.publisher.publish(
            update.parent_id,
            {"type": "progress", "progress": round(update.progress, 4), "message": update.message},
        )


def _send(deps: WorkerDeps, job_id: str, follow_ups: list[FollowUp]) -> None:
    """Send committed jobs: those the handler created (e.g. indexing a chapter it saved), the
    next children of a fan-out parent, a job queued to run after this one. One the broker
    refuses (Redis down) stays queued: the recovery scan of every worker sends it again once
    it has waited JOB_QUEUED_RESEND_AFTER without a message — failing it instead would fail a
    whole reindex for a broker blip no author saw."""
    for follow_up in follow_ups:
        try:
            if deps.dispatcher is None:
                raise RuntimeError("this worker has no dispatcher")
            deps.dispatcher.dispatch(follow_up.job_id, follow_up.queue)
        except Exception as exc:
            log.warning(
                "could not send job %s (after job %s): %s; the recovery scan sends it again",
                follow_up.job_id,
                job_id,
                exc,
            )


def _finish(
    deps: WorkerDeps,
    job_id: str,
    worker_id: str,
    status: str,
    *,
    message: str,
    error: str | None = None,
) -> bool:
    with transaction(deps.sessions) as session:
        return JobRepository(session).finish(
            job_id, status=status, worker_id=worker_id, message=message, error=error
        )


def _fail(deps: WorkerDeps, job_id: str, worker_id: str, error: str) -> RunOutcome:
    with transaction(deps.sessions) as session:
        repo = JobRepository(session)
        if not repo.finish(
            job_id, status="failed", worker_id=worker_id, message="Failed", error=error
        ):
            session.rollback()
            return _stopped(deps, job_id)
        job = repo.get(job_id)
        parent = _settle_parent_of(session, job.parent_id if job is not None else None)
        released = outbox.take(session)
    _send(deps, job_id, released)
    _publish_final(deps, job_id)
    _publish_parent(deps, parent)
    return RunOutcome("failed")


def _stopped(deps: WorkerDeps, job_id: str) -> RunOutcome:
    with transaction(deps.sessions) as session:
        job = JobRepository(session).get(job_id)
        status = job.status if job is not None else "skipped"
    if status == "cancelled":
        _publish_final(deps, job_id)
        return RunOutcome("cancelled")
    return RunOutcome("skipped")


def _publish_final(deps: WorkerDeps, job_id: str) -> None:
    with transaction(deps.sessions) as session:
        job = JobRepository(session).get(job_id)
        if job is not None:
            deps.publisher.final(job_id, job_snapshot(job))


def recover_stale_jobs(
    sessions: sessionmaker[Session], dispatcher: JobDispatcher, lease_s: float
) -> list[str]:
    """Queue again the jobs whose worker stopped renewing its lease (killed, lost its host)."""
    cutoff = utcnow() - timedelta(seconds=lease_s)
    recovered: list[str] = []
    with transaction(sessions) as session:
        repo = JobRepository(session)
        candidates = [(job.id, job_queue(job)) for job in repo.stale_running(cutoff)]
    for job_id, queue in candidates:
        with transaction(sessions) as session:
            # Only the scanner whose update wins sends the job, so it is not sent twice.
            won = JobRepository(session).requeue_if_stale(job_id, cutoff)
        if won:
            dispatcher.dispatch(job_id, queue)
            recovered.append(job_id)
    return recovered


def recover_lost_queued_jobs(
    sessions: sessionmaker[Session],
    dispatcher: JobDispatcher,
    in_broker: Callable[[set[str]], set[str]],
    older_than_s: float,
) -> list[str]:
    """Send again the jobs queued for a while whose message the broker no longer has (Redis
    restarted without persistence, a flushed database). `in_broker` says which of the given ids
    still have a message. A job sent twice runs once: `claim` lets a single worker take it."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with transaction(sessions) as session:
        queued = {job.id: job_queue(job) for job in JobRepository(session).long_queued(cutoff)}
    if not queued:
        return []
    missing = set(queued) - in_broker(set(queued))
    if missing:
        # A message moves from the queue to the worker's unacked set in two steps; look twice
        # before calling it lost.
        time.sleep(0.5)
        missing -= in_broker(missing)
    recovered: list[str] = []
    for job_id in sorted(missing):
        with transaction(sessions) as session:
            won = JobRepository(session).mark_resent_if_queued(job_id, cutoff)
        if won:
            dispatcher.dispatch(job_id, queued[job_id])
            recovered.append(job_id)
    return recovered
