"""Migrations and repositories on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book, get_book, list_books
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import (
    current_text,
    restore_revision,
    save_new_chapter,
    update_chapter,
)
from services.core.db import make_engine, make_session_factory, transaction, utcnow
from services.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from services.core.jobs.models import Job
from services.core.jobs.repository import JobRepository
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import cancel_job, create_job, list_jobs
from services.core.migrate import downgrade, upgrade
from services.core.models import Base

TABLES = {"book", "chapter", "chapter_revision", "job", "artifact"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_url")
    downgrade(url)  # every test starts from an empty schema
    return url


@pytest.fixture()
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_migrations_create_every_table_and_downgrade_cleanly(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    downgrade(database_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    """A column added to a model without its migration (or the reverse) fails here, not in
    production."""
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []


def test_book_round_trip(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="  Dom  ", language="pt-br", genre="romance"))
    with transaction(sessions) as s:
        found = get_book(s, book.id)
        assert (found.title, found.language, found.genre) == ("Dom", "pt-BR", "romance")
        assert [b.id for b in list_books(s)] == [book.id]
        with pytest.raises(NotFound):
            get_book(s, "nope")


def test_overwriting_a_chapter_keeps_every_revision(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="B", language="en"))
        saved = save_new_chapter(s, book_id=book.id, title="One", text="first text", max_chars=100)
        chapter_id = saved.chapter.id
    with transaction(sessions) as s:
        update_chapter(
            s,
            book_id=book.id,
            chapter_id=chapter_id,
            title=None,
            text="second text here",
            expected_revision=1,
            max_chars=100,
        )
    with transaction(sessions) as s, pytest.raises(Conflict, match="revision 2"):
        update_chapter(
            s,
            book_id=book.id,
            chapter_id=chapter_id,
            title="Stale",
            text="lost?",
            expected_revision=1,
            max_chars=100,
        )
    with transaction(sessions) as s:
        restored = restore_revision(s, chapter_id=chapter_id, number=1, max_chars=100)
        assert restored.revision.number == 3
    with transaction(sessions) as s:
        repo = ChapterRepository(s)
        chapter = repo.get(chapter_id)
        assert chapter is not None
        assert chapter.current_revision == 3
        assert current_text(s, chapter).text == "first text"
        assert chapter.word_count == 2
        texts = [r.text for r in repo.revisions(chapter_id)]
        assert texts == ["first text", "second text here", "first text"]


def test_chapter_text_limits_and_ownership(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="B", language="en"))
        other = create_book(s, BookCreate(title="C", language="en"))
        saved = save_new_chapter(s, book_id=book.id, title="One", text="abc", max_chars=10)
    with transaction(sessions) as s:
        with pytest.raises(PayloadTooLarge, match="limit is 10"):
            save_new_chapter(s, book_id=book.id, title="Two", text="x" * 11, max_chars=10)
        with pytest.raises(InvalidInput):
            save_new_chapter(s, book_id=book.id, title="Two", text="   ", max_chars=10)
        with pytest.raises(NotFound):
            update_chapter(
                s,
                book_id=other.id,
                chapter_id=saved.chapter.id,
                title="x",
                text=None,
                expected_revision=None,
                max_chars=10,
            )


def test_job_lease_claim_renew_and_recovery(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="B", language="en"))
        chapter = save_new_chapter(s, book_id=book.id, title="One", text="abc", max_chars=10)
        job, created = create_job(
            s,
            JobCreate(kind="suggest", book_id=book.id, chapter_id=chapter.chapter.id),
            idempotency_key="key-1",
        )
        assert created
    with transaction(sessions) as s:
        again, created = create_job(
            s, JobCreate(kind="suggest", book_id=book.id, chapter_id=chapter.chapter.id), "key-1"
        )
        assert (again.id, created) == (job.id, False)
    with transaction(sessions) as s:
        repo = JobRepository(s)
        assert repo.claim(job.id, "w1", lease_s=10)
        assert not repo.claim(job.id, "w2", lease_s=10), "a live lease must not be taken"
        assert repo.renew(job.id, "w1", 0.5, "halfway")
        assert not repo.renew(job.id, "w2", 0.5, "not mine")
    with transaction(sessions) as s:
        # w1 stops renewing: after the lease the job can be re-queued and claimed by w2.
        row = s.get(Job, job.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=30)
    with transaction(sessions) as s:
        repo = JobRepository(s)
        assert [j.id for j in repo.stale_running(utcnow() - timedelta(seconds=10))] == [job.id]
        assert repo.requeue_if_stale(job.id, utcnow() - timedelta(seconds=10))
        assert repo.claim(job.id, "w2", lease_s=10)
        assert not repo.finish(job.id, status="succeeded", worker_id="w1"), "fenced out"
        assert repo.finish(job.id, status="succeeded", worker_id="w2", result={"ok": 1})
    with transaction(sessions) as s:
        done = s.get(Job, job.id)
        assert done is not None
        assert (done.status, done.attempts, done.progress) == ("succeeded", 2, 1.0)
        with pytest.raises(Conflict):
            cancel_job(s, job.id)


def test_job_validation_and_listing(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="B", language="en"))
        chapter = save_new_chapter(s, book_id=book.id, title="One", text="abc", max_chars=10)
        with pytest.raises(InvalidInput, match=r"valid kinds: ask, .*suggest"):
            create_job(s, JobCreate(kind="dance", book_id=book.id))
        with pytest.raises(InvalidInput, match="paths"):
            create_job(
                s,
                JobCreate(
                    kind="suggest",
                    book_id=book.id,
                    chapter_id=chapter.chapter.id,
                    params={"paths": 9},
                ),
            )
        with pytest.raises(NotFound):
            create_job(s, JobCreate(kind="suggest", book_id=book.id, chapter_id="missing"))
        for _ in range(3):
            create_job(s, JobCreate(kind="suggest", book_id=book.id, chapter_id=chapter.chapter.id))
    with transaction(sessions) as s:
        jobs, total = list_jobs(s, book_id=book.id, limit=2)
        assert total == 3 and len(jobs) == 2
        cancelled = cancel_job(s, jobs[0].id)
        assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    with transaction(sessions) as s:
        _, total = list_jobs(s, status="cancelled")
        assert total == 1
