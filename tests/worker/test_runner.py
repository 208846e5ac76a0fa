"""The job runner in-process, on a real catalog, Redis and LLM: idempotent and crash-loop safe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.service import save_new_chapter
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, transaction, utcnow
from services.core.jobs.events import decode_event, stream_key
from services.core.jobs.models import Job
from services.core.jobs.runner import WorkerDeps, run_job
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import create_job
from services.core.llm.client import LLMClient
from services.core.migrate import upgrade
from tests.conftest import claim_redis_db, release_redis_db


@pytest.fixture()
def deps(tmp_path: Path, redis_base: str, llm_url: str) -> Iterator[WorkerDeps]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATA_DIR=str(tmp_path),
        REDIS_URL=claim_redis_db(redis_base),
        LLM_BASE_URL=llm_url,
    )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    yield WorkerDeps(
        settings=settings,
        sessions=make_session_factory(engine),
        redis=redis.Redis.from_url(settings.redis_url),
        llm=LLMClient(settings),
    )
    engine.dispose()
    release_redis_db(settings.redis_url)


def new_job(deps: WorkerDeps) -> str:
    with transaction(deps.sessions) as s:
        book = create_book(s, BookCreate(title="Runner", language="en"))
        saved = save_new_chapter(
            s, book_id=book.id, title="Dawn", text="The ship left at dawn.", max_chars=1000
        )
        job, _ = create_job(
            s,
            JobCreate(
                kind="suggest",
                book_id=book.id,
                chapter_id=saved.chapter.id,
                params={"max_tokens": 24},
            ),
        )
        return job.id


def test_running_a_job_twice_leaves_one_result(deps: WorkerDeps) -> None:
    job_id = new_job(deps)
    assert run_job(job_id, deps, max_attempts=3).status == "succeeded"
    assert run_job(job_id, deps, max_attempts=3).status == "skipped"
    with transaction(deps.sessions) as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == "succeeded" and job.attempts == 1
    files = list((deps.settings.chapters_dir).glob("sugest_dawn__*.md"))
    assert len(files) == 1
    events = [decode_event(f) for _, f in deps.redis.xrange(stream_key(job_id))]
    assert [e["type"] for e in events].count("final") == 1


def test_a_job_that_keeps_killing_its_worker_is_given_up(deps: WorkerDeps) -> None:
    job_id = new_job(deps)
    with transaction(deps.sessions) as s:
        job = s.get(Job, job_id)
        assert job is not None
        # As if three workers had died holding it: running, attempts used up, lease stale.
        job.status, job.attempts, job.worker_id = "running", 3, "dead"
        job.heartbeat_at = utcnow() - timedelta(minutes=5)
    assert run_job(job_id, deps, max_attempts=3).status == "failed"
    with transaction(deps.sessions) as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == "failed"
        assert job.error is not None and "gave up after 3 attempts" in job.error
