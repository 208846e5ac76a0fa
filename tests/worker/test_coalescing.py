"""Coalescing and bounded fan-out in-process, on a real catalog (SQLite and PostgreSQL) and
Redis: one pending job per chapter or book, however many requests — also when they race in
separate transactions —, an author's save ahead of bulk work, and a reindex that keeps only a
window of chapter jobs in flight."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.service import save_new_chapter, update_chapter
from services.core.db import transaction
from services.core.jobs import outbox
from services.core.jobs.models import Job
from services.core.jobs.outbox import FollowUp
from services.core.jobs.queues import Queue
from services.core.jobs.repository import JobRepository
from services.core.jobs.runner import WorkerDeps, run_job
from services.core.jobs.schemas import JobCreate
from services.core.jobs.submission import Submitted, create_job


def new_book(deps: WorkerDeps, chapters: int) -> tuple[str, list[str]]:
    with transaction(deps.sessions) as s:
        book = create_book(s, BookCreate(title="Coalescing", language="en")).id
        ids = [
            save_new_chapter(
                s, book_id=book, title=f"Part {n}", text=f"Text of part {n}.", max_chars=1000
            ).chapter.id
            for n in range(chapters)
        ]
    return book, ids


def submit(
    deps: WorkerDeps, request: JobCreate, **options: Any
) -> tuple[Submitted, list[FollowUp]]:
    with transaction(deps.sessions) as s:
        submitted = create_job(s, request, **options)
        return submitted, outbox.take(s)


def pending(deps: WorkerDeps, kind: str, **where: str) -> list[Job]:
    with transaction(deps.sessions) as s:
        stmt = select(Job).where(Job.kind == kind, Job.status.in_(("queued", "running")))
        for column, value in where.items():
            stmt = stmt.where(getattr(Job, column) == value)
        return list(s.scalars(stmt))


def start(deps: WorkerDeps, job_id: str) -> None:
    with transaction(deps.sessions) as s:
        assert JobRepository(s).claim(job_id, "test-worker", 60)


def test_saves_of_a_chapter_merge_into_the_queued_job(deps: WorkerDeps) -> None:
    book, (chapter,) = new_book(deps, 1)
    first, sent = submit(deps, JobCreate(kind="index_chapter", book_id=book, chapter_id=chapter))
    assert first.created and sent == [FollowUp(first.job.id, Queue.INDEX_URGENT)]
    for n in range(9):
        with transaction(deps.sessions) as s:
            update_chapter(
                s, book_id=book, chapter_id=chapter, title=None, text=f"Version {n}.",
                expected_revision=None, max_chars=1000,
            )  # fmt: skip
            again = create_job(s, JobCreate(kind="index_chapter", book_id=book, chapter_id=chapter))
            assert (again.job.id, again.created) == (first.job.id, False)
            assert outbox.take(s) == [], "the queued job's message is enough"
    (only,) = pending(deps, "index_chapter", chapter_id=chapter)
    assert only.pending_key == f"index_chapter:{chapter}" and only.queue == "index_urgent"

    # A force request widens the queued job instead of queueing another.
    widened, sent = submit(
        deps,
        JobCreate(kind="index_chapter", book_id=book, chapter_id=chapter, params={"force": True}),
    )
    assert widened.job.id == first.job.id and widened.job.params["force"] is True and sent == []


def test_racing_requests_in_separate_transactions_create_one_job(deps: WorkerDeps) -> None:
    book, _ = new_book(deps, 2)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def request() -> None:
        try:
            barrier.wait()
            submitted, _ = submit(deps, JobCreate(kind="reindex_book", book_id=book))
            results.append(submitted.job.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(set(results)) == 1 and len(results) == 12
    with transaction(deps.sessions) as s:
        stmt = select(func.count()).select_from(Job).where(Job.book_id == book)
        n = s.scalar(stmt.where(Job.kind == "reindex_book"))
    assert n == 1


def test_more_asked_of_a_running_job_queues_one_job_after_it(deps: WorkerDeps) -> None:
    book, _ = new_book(deps, 1)
    plain = JobCreate(kind="reindex_book", book_id=book)
    forced = JobCreate(kind="reindex_book", book_id=book, params={"force": True})
    head, _ = submit(deps, plain)
    start(deps, head.job.id)
    # Covered by the running reindex: answered with it.
    covered, sent = submit(deps, plain)
    assert (covered.job.id, covered.created, sent) == (head.job.id, False, [])
    after, sent = submit(deps, forced)
    assert after.created and after.job.id != head.job.id and sent == [], "not sent yet"
    assert after.job.pending_key == f"reindex_book:{book}:next"
    again, _ = submit(deps, forced)
    assert (again.job.id, again.created) == (after.job.id, False)
    assert submit(deps, plain)[0].job.id == head.job.id

    # The running job ends: the one queued after it takes its place and is sent.
    with transaction(deps.sessions) as s:
        assert JobRepository(s).finish(head.job.id, status="succeeded", worker_id="test-worker")
        released = outbox.take(s)
    assert released == [FollowUp(after.job.id, Queue.INDEX)]
    (now,) = pending(deps, "reindex_book", book_id=book)
    assert now.id == after.job.id and now.pending_key == f"reindex_book:{book}"


def test_a_save_while_its_chapter_is_indexed_runs_once_more_after(deps: WorkerDeps) -> None:
    book, (chapter,) = new_book(deps, 1)
    request = JobCreate(kind="index_chapter", book_id=book, chapter_id=chapter)
    head, _ = submit(deps, request)
    start(deps, head.job.id)
    # The running job may have read the text before this save: one more run follows it.
    after, _ = submit(deps, request)
    assert after.created and after.job.id != head.job.id
    assert submit(deps, request)[0].job.id == after.job.id
    with transaction(deps.sessions) as s:
        JobRepository(s).finish(head.job.id, status="failed", worker_id="test-worker")
        assert outbox.take(s) == [FollowUp(after.job.id, Queue.INDEX_URGENT)]


def test_a_save_moves_a_queued_bulk_chapter_to_the_urgent_queue(deps: WorkerDeps) -> None:
    book, _ = new_book(deps, 2)
    parent, _ = submit(deps, JobCreate(kind="reindex_book", book_id=book))
    assert run_job(parent.job.id, deps, max_attempts=3).status == "waiting"
    recorder: Any = deps.dispatcher
    assert {q for _, q in recorder.indexing()} == {Queue.INDEX}
    child = recorder.indexing()[0][0]
    chapter = next(
        j.chapter_id for j in pending(deps, "index_chapter", book_id=book) if j.id == child
    )
    saved, sent = submit(deps, JobCreate(kind="index_chapter", book_id=book, chapter_id=chapter))
    assert saved.job.id == child and saved.job.parent_id == parent.job.id
    assert sent == [FollowUp(child, Queue.INDEX_URGENT)], "sent again, to the urgent queue"
    assert saved.job.queue == "index_urgent"
    assert len(pending(deps, "index_chapter", book_id=book)) == 2


def test_a_reindex_keeps_a_window_of_chapter_jobs_in_flight(deps: WorkerDeps) -> None:
    deps.settings = deps.settings.model_copy(update={"fanout_window": 3})
    book, chapters = new_book(deps, 10)
    recorder: Any = deps.dispatcher
    parent, _ = submit(deps, JobCreate(kind="reindex_book", book_id=book))
    assert run_job(parent.job.id, deps, max_attempts=3).status == "waiting"
    assert len(recorder.indexing()) == 3
    most_in_flight = 0
    ran: list[str] = []
    while len(ran) < len(recorder.indexing()):
        most_in_flight = max(most_in_flight, len(pending(deps, "index_chapter", book_id=book)))
        job_id = recorder.indexing()[len(ran)][0]
        assert run_job(job_id, deps, max_attempts=3).status == "succeeded"
        ran.append(job_id)
    assert most_in_flight == 3
    with transaction(deps.sessions) as s:
        done = s.get(Job, parent.job.id)
        assert done is not None and done.status == "succeeded"
        assert done.result is not None and done.result["indexed"] == 10
        assert "remaining" not in done.result
        children = list(s.scalars(select(Job.chapter_id).where(Job.parent_id == parent.job.id)))
    assert sorted(children) == sorted(chapters), "each chapter once"


def test_cancelling_a_windowed_reindex_leaves_the_rest_uncreated(deps: WorkerDeps) -> None:
    from services.core.jobs.service import cancel_job

    deps.settings = deps.settings.model_copy(update={"fanout_window": 2})
    book, _ = new_book(deps, 6)
    parent, _ = submit(deps, JobCreate(kind="reindex_book", book_id=book))
    run_job(parent.job.id, deps, max_attempts=3)
    with transaction(deps.sessions) as s:
        cancel_job(s, parent.job.id)
        assert outbox.take(s) == []
    with transaction(deps.sessions) as s:
        statuses = list(s.scalars(select(Job.status).where(Job.parent_id == parent.job.id)))
    assert statuses == ["cancelled", "cancelled"]
    assert (
        pending(deps, "index_chapter", book_id=book) == []
        and pending(deps, "reindex_book", book_id=book) == []
    )
