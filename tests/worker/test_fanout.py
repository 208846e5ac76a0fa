"""The reindex fan-out in-process, on a real catalog and Redis: a chapter that keeps failing is
retried, reported, and does not fail the others; the next reindex retries only that chapter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.models import Chapter
from services.core.chapters.service import save_new_chapter
from services.core.db import transaction
from services.core.jobs.models import Job
from services.core.jobs.runner import WorkerDeps, run_job
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import create_job
from services.core.memory.chunking import INDEX_FORMAT


def reindex(deps: WorkerDeps, book_id: str) -> str:
    with transaction(deps.sessions) as s:
        job, _ = create_job(s, JobCreate(kind="reindex_book", book_id=book_id))
        return job.id


def job(deps: WorkerDeps, job_id: str) -> Job:
    with transaction(deps.sessions) as s:
        found = s.get(Job, job_id)
        assert found is not None
        return found


def test_a_failing_chapter_is_retried_reported_and_alone(deps: WorkerDeps) -> None:
    with transaction(deps.sessions) as s:
        book = create_book(s, BookCreate(title="Fan-out", language="en")).id
        chapters = [
            save_new_chapter(
                s, book_id=book, title=f"Part {n}", text=f"Text of part {n}.", max_chars=1000
            ).chapter.id
            for n in range(1, 5)
        ]
    store: Any = deps.memory()
    store.broken.add(chapters[2])
    recorder: Any = deps.dispatcher

    parent = reindex(deps, book)
    assert run_job(parent, deps, max_attempts=3).status == "waiting"
    assert job(deps, parent).status == "running" and job(deps, parent).heartbeat_at is None
    sent = recorder.indexing()
    assert len(sent) == 4 and {q for _, q in sent} == {"index"}
    outcomes = [run_job(child, deps, max_attempts=3).status for child, _ in sent]
    assert outcomes == ["succeeded", "succeeded", "failed", "succeeded"]
    assert store.calls[chapters[2]] == 3, "the failing chapter is tried three times"

    done = job(deps, parent)
    assert done.status == "failed" and done.progress == 1.0
    assert done.result is not None
    assert done.result["indexed"] == 3 and done.result["failed"] == 1
    assert done.result["failures"][0]["chapter_id"] == chapters[2]
    assert done.error is not None and "vector store timed out" in done.error

    store.broken.clear()
    recorder.sent.clear()
    retry = reindex(deps, book)
    run_job(retry, deps, max_attempts=3)
    assert [job(deps, j).chapter_id for j, _ in recorder.indexing()] == [chapters[2]]
    run_job(recorder.indexing()[0][0], deps, max_attempts=3)
    again = job(deps, retry)
    assert again.status == "succeeded" and again.result is not None
    assert again.result["skipped"] == 3 and again.result["indexed"] == 1


def test_cancelling_the_parent_cancels_its_queued_children(deps: WorkerDeps) -> None:
    from services.core.jobs.service import cancel_job

    with transaction(deps.sessions) as s:
        book = create_book(s, BookCreate(title="Cancel", language="en")).id
        for n in range(3):
            save_new_chapter(s, book_id=book, title=f"C{n}", text="Words here.", max_chars=100)
    parent = reindex(deps, book)
    run_job(parent, deps, max_attempts=3)
    recorder: Any = deps.dispatcher
    first = recorder.indexing()[0][0]
    assert run_job(first, deps, max_attempts=3).status == "succeeded"
    assert job(deps, parent).progress == pytest.approx(1 / 3, abs=0.01)
    with transaction(deps.sessions) as s:
        cancel_job(s, parent)
    assert [run_job(j, deps, max_attempts=3).status for j, _ in recorder.indexing()[1:]] == [
        "skipped",
        "skipped",
    ]
    assert {job(deps, j).status for j, _ in recorder.indexing()[1:]} == {"cancelled"}
    assert job(deps, parent).status == "cancelled"


def test_a_plain_reindex_rebuilds_chapters_indexed_the_old_way(deps: WorkerDeps) -> None:
    """After the chunking changes (INDEX_FORMAT bumped, or a catalog migrated from before it was
    recorded), a reindex without `force` rebuilds exactly the chapters made the old way."""
    with transaction(deps.sessions) as s:
        book = create_book(s, BookCreate(title="Formats", language="en")).id
        chapters = [
            save_new_chapter(s, book_id=book, title=f"P{n}", text=f"Part {n}.", max_chars=100)
            for n in range(4)
        ]
    recorder: Any = deps.dispatcher
    first = reindex(deps, book)
    run_job(first, deps, max_attempts=3)
    for child, _ in recorder.indexing():
        assert run_job(child, deps, max_attempts=3).status == "succeeded"
    old = {chapters[1].chapter.id, chapters[3].chapter.id}
    with transaction(deps.sessions) as s:
        for chapter_id in old:
            s.execute(update(Chapter).where(Chapter.id == chapter_id).values(index_format=None))
        s.execute(
            update(Chapter)
            .where(Chapter.id == chapters[2].chapter.id)
            .values(index_format=INDEX_FORMAT - 1)
        )
    old.add(chapters[2].chapter.id)

    recorder.sent.clear()
    second = reindex(deps, book)
    run_job(second, deps, max_attempts=3)
    assert {job(deps, j).chapter_id for j, _ in recorder.indexing()} == old
    for child, _ in recorder.indexing():
        assert run_job(child, deps, max_attempts=3).status == "succeeded"
    result = job(deps, second).result
    assert result is not None and (result["indexed"], result["skipped"]) == (3, 1)
    with transaction(deps.sessions) as s:
        formats = s.scalars(select(Chapter.index_format).where(Chapter.book_id == book))
        assert set(formats) == {INDEX_FORMAT}
