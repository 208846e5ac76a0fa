"""Submitting jobs: validate, create the row (or answer with the pending job that covers the
request), commit, then send the message. Routers and job handlers call these; nothing else
creates job rows.

Coalescing. A kind with a `coalesce` scope (kinds.py) has at most one pending (queued or
running) job per chapter or book: its row holds `pending_key`, unique in the catalog, so two
API processes racing cannot both create one — the loser's insert fails and it answers with the
winner's job. A request meets the pending job and

* is covered by it (same or weaker params; for a running job only where its kind says a
  running job covers new requests): answered with that job, nothing new is queued;
* widens a queued job (force after a plain request, an author's save meeting a queued bulk
  job): the queued job takes the wider params — and the urgent queue, where it is sent again;
* asks a running job for more (force after a plain reindex; a chapter saved again while its
  indexing runs): one job is queued to run after it, keyed `<key>:next`, unsent; the pending
  job's end promotes it (JobRepository._release). Further requests merge into that one.

A job that is queued therefore always runs after the latest change it was asked for: a queued
chapter job reads the current text when it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.service import get_book
from services.core.chapters.service import get_chapter
from services.core.db import transaction
from services.core.errors import Conflict, InvalidInput, ServiceUnavailable
from services.core.ids import new_uuid
from services.core.jobs import outbox
from services.core.jobs.kinds import JOB_KINDS, JobKind, valid_kinds
from services.core.jobs.models import Job
from services.core.jobs.outbox import FollowUp
from services.core.jobs.queues import Queue
from services.core.jobs.repository import NEXT_SUFFIX, JobRepository, job_queue
from services.core.jobs.schemas import JobCreate, JobOut

log = logging.getLogger(__name__)
T = TypeVar("T")
# Rounds of "look, then insert or merge" before giving up; each lost round means another
# request changed the pending job in between, so a handful is plenty.
_MAX_ROUNDS = 8
_URGENCY = {Queue.INDEX: 0, Queue.INDEX_URGENT: 1}


class JobDispatcher(Protocol):
    """Sends a committed job to the workers (Celery in production)."""

    def dispatch(self, job_id: str, queue: Queue) -> None: ...


class Submitted(NamedTuple):
    job: Job
    # A new row (False: an earlier job with the idempotency key, or the pending job that
    # covers the request).
    created: bool


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


def _covers(pending: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Coalescing kinds have on/off params only (force, summarize): a job covers a request
    when it does at least everything the request turns on."""
    return all(bool(pending.get(name)) or not on for name, on in wanted.items())


def _union(pending: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {**pending, **{n: bool(pending.get(n)) or bool(v) for n, v in wanted.items()}}


def _more_urgent(current: Queue, wanted: Queue) -> Queue:
    return wanted if _URGENCY.get(wanted, 0) > _URGENCY.get(current, 0) else current


def _validated(session: Session, request: JobCreate) -> tuple[JobKind, dict[str, Any]]:
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
    return kind, params


def _insert(session: Session, job: Job) -> bool:
    """Add the row; False when a unique key (idempotency or pending) is taken already."""
    try:
        with session.begin_nested():
            JobRepository(session).add(job)
    except IntegrityError:
        return False
    return True


def create_job(
    session: Session,
    request: JobCreate,
    idempotency_key: str | None = None,
    *,
    queue: Queue | None = None,
    parent_id: str | None = None,
    running_covers: bool | None = None,
) -> Submitted:
    """Validate and insert the job row, or find the job that covers the request (see the
    module docstring). Jobs to send after the commit are noted in the outbox."""
    repo = JobRepository(session)
    if idempotency_key is not None:
        existing = repo.by_idempotency_key(idempotency_key)
        if existing is not None:
            return Submitted(existing, False)
    kind, params = _validated(session, request)
    wanted_queue = queue or kind.queue

    def new_job(pending_key: str | None) -> Job:
        return Job(
            id=new_uuid(),
            kind=kind.name,
            status="queued",
            progress=0.0,
            message="Queued",
            book_id=request.book_id,
            chapter_id=request.chapter_id,
            parent_id=parent_id,
            params=params,
            idempotency_key=idempotency_key,
            queue=wanted_queue.value,
            pending_key=pending_key,
        )

    key = kind.pending_key(request.book_id, request.chapter_id)
    if key is None:
        job = new_job(None)
        if _insert(session, job):
            outbox.note(session, job.id, wanted_queue)
            return Submitted(job, True)
        # Two requests raced with the same idempotency key: the other one won.
        existing = repo.by_idempotency_key(idempotency_key) if idempotency_key else None
        if existing is None:
            raise Conflict("the job could not be stored; try again")
        return Submitted(existing, False)
    covers_running = kind.running_covers if running_covers is None else running_covers
    for _ in range(_MAX_ROUNDS):
        found = _coalesce(session, key, params, wanted_queue, covers_running, new_job)
        if found is not None:
            return found
        if idempotency_key is not None and (done := repo.by_idempotency_key(idempotency_key)):
            return Submitted(done, False)
    raise Conflict(f"too many requests at once for the same {kind.coalesce}; try again")


def _coalesce(
    session: Session,
    key: str,
    params: dict[str, Any],
    queue: Queue,
    covers_running: bool,
    new_job: Callable[[str], Job],
) -> Submitted | None:
    """One round; None when another request changed the pending job meanwhile (go again)."""
    repo = JobRepository(session)
    pending = repo.by_pending_key(key)
    if pending is None:
        job = new_job(key)
        if not _insert(session, job):
            return None
        outbox.note(session, job.id, queue)
        return Submitted(job, True)
    if pending.status == "queued":
        return _widen(session, pending, key, params, queue)
    if covers_running and _covers(pending.params, params):
        return Submitted(pending, False) if repo.hold_pending(pending.id, key) else None
    # Running, and asked for more: one job runs after it. Holding the running job's row makes
    # its end (which promotes the waiting job) come after this transaction's commit.
    if not repo.hold_pending(pending.id, key):
        return None
    waiting = repo.by_pending_key(key + NEXT_SUFFIX)
    if waiting is not None:
        return _widen(session, waiting, key + NEXT_SUFFIX, params, queue, send=False)
    job = new_job(key + NEXT_SUFFIX)
    job.message = "Queued to run after the job already running for this"
    return Submitted(job, True) if _insert(session, job) else None


def _widen(
    session: Session,
    queued: Job,
    key: str,
    params: dict[str, Any],
    queue: Queue,
    *,
    send: bool = True,
) -> Submitted | None:
    current = job_queue(queued)
    target = _more_urgent(current, queue)
    if _covers(queued.params, params) and target == current:
        return Submitted(queued, False)
    if not JobRepository(session).merge_into_queued(
        queued.id, key, _union(queued.params, params), target
    ):
        return None
    session.refresh(queued)
    if send and target != current:
        # Sent again to the urgent queue; the older message finds the job taken or done.
        outbox.note(session, queued.id, target)
    return Submitted(queued, False)


def fail_undispatched(session: Session, job_id: str, reason: str) -> None:
    JobRepository(session).finish(
        job_id,
        status="failed",
        message="Could not be queued",
        error=reason,
        from_statuses=("queued",),
    )


class JobSubmitter:
    """Create → commit → send, for the API and the workers. A message is sent only after the
    transaction that stored its job committed; a job whose message cannot be sent is marked
    failed rather than left queued."""

    def __init__(self, sessions: sessionmaker[Session], dispatcher: JobDispatcher) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher

    def submit(
        self, request: JobCreate, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The job's snapshot (plus `job_id`) and whether it was created; 503 if the broker is
        down (the job is then failed, not left queued)."""

        def submit(session: Session) -> tuple[Submitted, dict[str, Any]]:
            submitted = create_job(session, request, idempotency_key)
            return submitted, job_snapshot(submitted.job)

        (submitted, snapshot), follow_ups = self.run(submit)
        if submitted.job.id in self.send(follow_ups):
            raise ServiceUnavailable(
                "the job broker (Redis) is unavailable; the job was not queued, try again shortly"
            )
        return {**snapshot, "job_id": submitted.job.id}, submitted.created

    def run(self, work: Callable[[Session], T]) -> tuple[T, list[FollowUp]]:
        """Run `work` in one transaction; returns its value and the jobs to send now that it
        committed (send them with `send`)."""
        with transaction(self.sessions) as session:
            value = work(session)
            follow_ups = outbox.take(session)
        return value, follow_ups

    def run_and_send(self, work: Callable[[Session], T]) -> tuple[T, set[str]]:
        """`run`, then `send`: the value and the ids of jobs that could not be sent."""
        value, follow_ups = self.run(work)
        return value, self.send(follow_ups)

    def send(self, follow_ups: Iterable[FollowUp]) -> set[str]:
        """Send committed jobs; those the broker refuses are marked failed. Returns their ids."""
        failed: set[str] = set()
        for follow_up in follow_ups:
            try:
                self.dispatcher.dispatch(follow_up.job_id, follow_up.queue)
            except Exception as exc:
                log.warning("could not send job %s: %s", follow_up.job_id, exc)
                failed.add(follow_up.job_id)
                with transaction(self.sessions) as session:
                    fail_undispatched(session, follow_up.job_id, f"broker unavailable: {exc}")
        return failed
