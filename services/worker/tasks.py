"""Celery entry point (`celery -A services.worker.tasks worker`): thin tasks over the job runner."""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from typing import Any

import redis
from celery import Task
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutdown,
)

from services.broker.celery_app import (
    RUN_JOB_TASK,
    CeleryDispatcher,
    create_celery,
    jobs_in_broker,
)
from services.core.archives.trash import LazyBookMemory, purge_expired
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory
from services.core.jobs.runner import (
    RunOutcome,
    WorkerDeps,
    recover_lost_queued_jobs,
    recover_stale_jobs,
    run_job,
)
from services.core.llm.client import LLMClient
from services.core.logs import configure_logging, current_job_id

log = logging.getLogger(__name__)

settings = Settings()
app = create_celery(settings)


@cache
def deps() -> WorkerDeps:
    # Built lazily inside the process that runs tasks, so no connection crosses a fork.
    return WorkerDeps(
        settings=settings,
        sessions=make_session_factory(make_engine(settings.database_url)),
        redis=redis.Redis.from_url(settings.redis_url),
        llm=LLMClient(settings),
        dispatcher=CeleryDispatcher(app),
    )


@setup_logging.connect
def _configure_logging(loglevel: str | int | None = None, **_: Any) -> None:
    # Connected, so Celery leaves logging to us: one format (LOG_FORMAT) for its lines and ours.
    configure_logging(settings, level=loglevel or None)


@task_prerun.connect
def _job_id_on_log_lines(task: Task | None = None, args: Any = None, **_: Any) -> None:
    # Also Celery's own lines about the task ("received", "succeeded in …") carry the job id.
    if task is not None and task.name == RUN_JOB_TASK and args:
        current_job_id.set(str(args[0]))


@task_postrun.connect
def _forget_job_id(**_: Any) -> None:
    current_job_id.set(None)


@app.task(bind=True, name=RUN_JOB_TASK, max_retries=None)
def run_job_task(self: Task, job_id: str) -> str:
    outcome: RunOutcome = run_job(job_id, deps(), max_attempts=settings.job_max_attempts)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in_s)
    return outcome.status


_stop_recovery = threading.Event()
# Books past TRASH_DAYS are purged by every worker at its start and then hourly (as well as
# whenever the trash is listed): an install nobody looks at still forgets deleted books.
TRASH_PURGE_EVERY_S = 3600.0


def _purge_expired_books() -> None:
    purged = purge_expired(
        deps().sessions,
        trash_days=settings.trash_days,
        chapters_dir=settings.chapters_dir,
        uploads_dir=settings.uploads_dir,
        memory=LazyBookMemory(deps().memory),
    )
    if purged:
        log.warning("purged books deleted more than %s days ago: %s", settings.trash_days, purged)


def _recovery_loop() -> None:
    dispatcher = CeleryDispatcher(app)
    broker = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    queues = [q.name for q in app.conf.task_queues]
    next_trash_purge = 0.0
    while not _stop_recovery.wait(settings.job_recovery_scan_s):
        if time.monotonic() >= next_trash_purge:
            next_trash_purge = time.monotonic() + TRASH_PURGE_EVERY_S
            try:
                _purge_expired_books()
            except Exception:
                log.warning("purging the trash failed; will retry", exc_info=True)
        try:
            recovered = recover_stale_jobs(deps().sessions, dispatcher, settings.job_lease_s)
            if recovered:
                log.warning("re-queued jobs whose worker stopped: %s", ", ".join(recovered))
            resent = recover_lost_queued_jobs(
                deps().sessions,
                dispatcher,
                lambda ids: jobs_in_broker(
                    broker, queues, ids, taken_within_s=settings.job_queued_resend_after_s
                ),
                settings.job_queued_resend_after_s,
            )
            if resent:
                log.warning("sent again queued jobs the broker had lost: %s", ", ".join(resent))
        except Exception:
            log.warning("job recovery scan failed; will retry", exc_info=True)


@worker_ready.connect
def _start_recovery(**_: Any) -> None:
    threading.Thread(target=_recovery_loop, name="job-recovery", daemon=True).start()


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    _stop_recovery.set()
