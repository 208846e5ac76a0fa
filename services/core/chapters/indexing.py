"""The indexing jobs that chapter saves ask for, and indexing every chapter already saved.

Apart from `saving` because this module creates job rows: the job kinds import the handlers
that save chapters, so the handlers (`expand`, `import_manuscript`) cannot import it at load time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.core.books.repository import BookRepository
from services.core.books.service import get_book
from services.core.chapters.disk_import import import_chapter_files
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.saving import RequestIndex, SavedChapter
from services.core.db import transaction
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import get_job
from services.core.jobs.submission import JobSubmitter, Submitted, create_job, job_snapshot
from services.core.memory.store import MemoryStore


def index_chapter_request(idempotency_key: str | None = None) -> RequestIndex:
    """One `index_chapter` job for the saved chapter; a key makes a rerun get the same job."""

    def request(session: Session, chapters: Sequence[SavedChapter]) -> str | None:
        (chapter,) = chapters
        job, _ = create_job(
            session,
            JobCreate(kind="index_chapter", book_id=chapter.book_id, chapter_id=chapter.chapter_id),
            idempotency_key=idempotency_key,
        )
        return job.id

    return request


@dataclass
class Vectorized:
    jobs: list[dict[str, Any]] = field(default_factory=list)  # snapshots of the jobs sent
    imported: list[tuple[str, str]] = field(default_factory=list)  # (book_id, chapter_id)
    created: bool = False  # False: every book already had a reindex pending that covers it


def vectorize_existing(
    jobs: JobSubmitter,
    chapters_dir: Path,
    *,
    max_chars: int,
    book_id: str | None,
    force: bool,
    summarize: bool,
) -> Vectorized:
    """Import chapter files missing from the catalog, then reindex the book (or every book): one
    `reindex_book` job per book, coalesced like any reindex request — a reindex already pending
    that covers the request answers for it. Returns the jobs that could be sent."""
    params = {"force": force, "summarize": summarize}

    def plan(session: Session) -> tuple[list[tuple[str, str]], list[Submitted]]:
        # Chapters kept only as files (the original layout) join the catalog first.
        imported = import_chapter_files(session, chapters_dir, max_chars=max_chars, book_id=book_id)
        if book_id is not None:
            book_ids = [get_book(session, book_id).id]
        else:
            book_ids = [b.id for b in BookRepository(session).list(limit=10_000)]
        submitted = [
            create_job(session, JobCreate(kind="reindex_book", book_id=b, params=params))
            for b in book_ids
        ]
        return imported, submitted

    (imported, submitted), failed = jobs.run_and_send(plan)
    with transaction(jobs.sessions) as session:
        snapshots = [
            job_snapshot(get_job(session, s.job.id)) for s in submitted if s.job.id not in failed
        ]
    created = any(s.created for s in submitted) or not submitted
    return Vectorized(jobs=snapshots, imported=imported, created=created)


def forget_memory(
    sessions: sessionmaker[Session], memory: MemoryStore, *, book_id: str | None
) -> int:
    """Delete one book's memory (or all of it, `book_id=None`); its chapters stay in the catalog,
    marked unindexed so the next reindex rebuilds them. Returns the passages deleted."""
    if book_id is not None:
        with transaction(sessions) as session:
            get_book(session, book_id)
        removed = memory.delete_book(book_id)
    else:
        removed = memory.clear()
    with transaction(sessions) as session:
        ChapterRepository(session).forget_indexing(book_id=book_id)
    return removed
