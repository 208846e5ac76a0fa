"""Saving chapters, the one flow: the revisions and their indexing job commit together (retried
when two writers race for the same revision number), the Markdown mirrors follow the commit, then
the indexing job is sent.

Used by the author's saves (`POST /chapter/save`, `PUT /chapter/update`, restore), by `expand`
saving a scene and by `import_manuscript` saving a whole book. How the indexing job is created and
sent is passed in (`IndexJobs`): the core's chapters know nothing of the job queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.service import get_book
from services.core.chapters import service
from services.core.chapters.schemas import ChapterSave, ChapterSaved, ChapterUpdate
from services.core.chapters.service import ChapterText
from services.core.db import transaction
from services.core.errors import NotFound
from services.core.files import ChapterFiles
from services.core.jobs import outbox
from services.core.jobs.outbox import FollowUp

# Two writers can pick the same next revision number; the unique constraint rejects the loser,
# who tries again on top of the winner, so neither text is lost.
SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class SavedChapter:
    """What was committed, read inside the transaction (no ORM object leaves it)."""

    book_id: str
    chapter_id: str
    position: int
    revision: int
    title: str
    text: str
    word_count: int


RequestIndex = Callable[[Session, Sequence[SavedChapter]], str | None]
# Sends committed jobs; returns the ids of those the broker refused (they are marked failed).
SendIndex = Callable[[Sequence[FollowUp]], set[str]]


@dataclass(frozen=True)
class IndexJobs:
    """How a save gets its chapters indexed.

    `request` adds the job row inside the save's own transaction, so a committed chapter always
    has its indexing queued; it returns the job's id (None: nothing to index). The jobs the
    transaction committed to send (the outbox) are handed to `send` after the commit. Without
    `send`, the caller sends them: a job handler returns them as follow-ups that the job runner
    sends after the handler's own job committed.
    """

    request: RequestIndex
    send: SendIndex | None = None


@dataclass(frozen=True)
class SaveResult:
    chapters: list[SavedChapter]
    index_job_id: str | None
    index_queued: bool  # sent here and accepted (always False when the caller sends it)
    follow_ups: list[FollowUp]  # committed, still to send (empty when `send` sent them)

    @property
    def chapter(self) -> SavedChapter:
        return self.chapters[0]


def snapshot(saved: ChapterText) -> SavedChapter:
    chapter, revision = saved.chapter, saved.revision
    return SavedChapter(
        book_id=chapter.book_id,
        chapter_id=chapter.id,
        position=chapter.position,
        revision=revision.number,
        title=revision.title,
        text=revision.text,
        word_count=chapter.word_count,
    )


Progress = Callable[[int, int], None]  # (files written, files to write)


def mirror(
    chapters_dir: Path, chapters: Sequence[SavedChapter], progress: Progress | None = None
) -> None:
    """The catalog is the truth; the Markdown mirrors follow the commit."""
    files = ChapterFiles(chapters_dir)
    for n, c in enumerate(chapters, start=1):
        files.write_chapter(c.book_id, c.chapter_id, c.title, c.text)
        if progress is not None:
            progress(n, len(chapters))


def save_chapters(
    sessions: sessionmaker[Session],
    chapters_dir: Path,
    write: Callable[[Session], Sequence[ChapterText]],
    index: IndexJobs,
    progress: Progress | None = None,
) -> SaveResult:
    """Run `write` and the index request in one transaction, mirror the files, send the job."""
    for attempt in range(SAVE_ATTEMPTS):
        try:
            with transaction(sessions) as session:
                chapters = [snapshot(saved) for saved in write(session)]
                index_job_id = index.request(session, chapters)
                follow_ups = outbox.take(session)
            break
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS - 1:
                raise
    mirror(chapters_dir, chapters, progress)
    queued = False
    if index.send is not None:
        failed = index.send(follow_ups)
        # A save that merged into a pending indexing job still has it: that job is queued.
        queued = index_job_id is not None and index_job_id not in failed
        follow_ups = []
    return SaveResult(chapters, index_job_id, queued, follow_ups)


def _chapter_saved(result: SaveResult, chapters_dir: Path) -> ChapterSaved:
    c = result.chapter
    return ChapterSaved(
        book_id=c.book_id,
        chapter_id=c.chapter_id,
        revision=c.revision,
        title=c.title,
        word_count=c.word_count,
        file=ChapterFiles(chapters_dir).chapter_path(c.book_id, c.chapter_id).name,
        index_job_id=result.index_job_id if result.index_queued else None,
    )


def save_new(
    sessions: sessionmaker[Session],
    chapters_dir: Path,
    body: ChapterSave,
    index: IndexJobs,
    *,
    max_chars: int,
) -> ChapterSaved:
    """A new chapter (revision 1) written by the author."""

    def write(session: Session) -> list[ChapterText]:
        try:
            get_book(session, body.book_id)
        except NotFound:
            raise NotFound(
                f"book {body.book_id!r} not found: create it first with POST /books "
                "(its answer's id is the book_id to save chapters into)"
            ) from None
        saved = service.save_new_chapter(
            session,
            book_id=body.book_id,
            title=body.title,
            text=body.text,
            position=body.position,
            max_chars=max_chars,
        )
        return [saved]

    return _chapter_saved(save_chapters(sessions, chapters_dir, write, index), chapters_dir)


def save_update(
    sessions: sessionmaker[Session],
    chapters_dir: Path,
    body: ChapterUpdate,
    index: IndexJobs,
    *,
    max_chars: int,
) -> ChapterSaved:
    """An overwrite: appends a revision, the old text stays retrievable."""

    def write(session: Session) -> list[ChapterText]:
        saved = service.update_chapter(
            session,
            book_id=body.book_id,
            chapter_id=body.chapter_id,
            title=body.title,
            text=body.text,
            expected_revision=body.expected_revision,
            max_chars=max_chars,
        )
        return [saved]

    return _chapter_saved(save_chapters(sessions, chapters_dir, write, index), chapters_dir)


def save_restore(
    sessions: sessionmaker[Session],
    chapters_dir: Path,
    chapter_id: str,
    number: int,
    index: IndexJobs,
    *,
    max_chars: int,
) -> ChapterSaved:
    """An old revision brought back as the newest one."""

    def write(session: Session) -> list[ChapterText]:
        saved = service.restore_revision(
            session, chapter_id=chapter_id, number=number, max_chars=max_chars
        )
        return [saved]

    return _chapter_saved(save_chapters(sessions, chapters_dir, write, index), chapters_dir)
