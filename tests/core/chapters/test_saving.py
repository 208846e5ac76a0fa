"""The one chapter-saving flow: revision and indexing job in one transaction (retried when two
writers race for a revision number), the Markdown mirror after the commit, then the send."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters import saving
from services.core.chapters.indexing import index_chapter_request
from services.core.chapters.models import ChapterRevision
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.schemas import ChapterSave, ChapterUpdate
from services.core.chapters.service import (
    ChapterText,
    current_text,
    get_chapter,
    update_chapter,
)
from services.core.db import transaction
from services.core.errors import NotFound
from services.core.jobs.models import Job
from services.core.jobs.outbox import FollowUp

MAX = 10_000


@pytest.fixture()
def chapters_dir(tmp_path: Path) -> Path:
    path = tmp_path / "chapters"
    path.mkdir()
    return path


class Sender:
    """Stands in for the broker: records what was sent, accepts or refuses."""

    def __init__(self, accepts: bool = True) -> None:
        self.sent: list[str] = []
        self.accepts = accepts

    def __call__(self, follow_ups: Sequence[FollowUp]) -> set[str]:
        ids = [f.job_id for f in follow_ups]
        self.sent += ids
        return set() if self.accepts else set(ids)


def jobs(sessions: sessionmaker[Session]) -> list[Job]:
    with transaction(sessions) as s:
        return list(s.scalars(select(Job)).all())


def new_book(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as s:
        return create_book(s, BookCreate(title="O Mar")).id


def test_a_save_commits_the_chapter_with_its_index_job_then_mirrors_and_sends(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    book_id, send = new_book(sessions), Sender()
    index = saving.IndexJobs(index_chapter_request(), send)
    body = ChapterSave(book_id=book_id, title="A partida", text="Ana embarca.")
    saved = saving.save_new(sessions, chapters_dir, body, index, max_chars=MAX)
    assert (saved.revision, saved.word_count, saved.title) == (1, 2, "A partida")
    (job,) = jobs(sessions)
    assert (job.kind, job.chapter_id, job.status) == ("index_chapter", saved.chapter_id, "queued")
    assert send.sent == [job.id] and saved.index_job_id == job.id
    mirror = chapters_dir / saved.file
    assert mirror.read_text() == "# A partida\n\nAna embarca.\n"

    # Saved again while its indexing is still queued: merged into that job, nothing new sent.
    update = ChapterUpdate(book_id=book_id, chapter_id=saved.chapter_id, text="Ana volta.")
    again = saving.save_update(sessions, chapters_dir, update, index, max_chars=MAX)
    assert again.revision == 2 and again.index_job_id == job.id and send.sent == [job.id]
    assert mirror.read_text() == "# A partida\n\nAna volta.\n"

    other = ChapterSave(book_id=book_id, title="A volta", text="Ana chega.")
    refused = saving.IndexJobs(index_chapter_request(), Sender(accepts=False))
    third = saving.save_new(sessions, chapters_dir, other, refused, max_chars=MAX)
    # The broker refused the job: the answer names no job, the text is saved all the same.
    assert third.revision == 1 and third.index_job_id is None
    assert (chapters_dir / third.file).read_text() == "# A volta\n\nAna chega.\n"


def test_a_save_to_an_unknown_book_names_post_books_and_writes_nothing(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    send = Sender()
    body = ChapterSave(book_id="no-such-book", title="T", text="x")
    index = saving.IndexJobs(index_chapter_request(), send)
    with pytest.raises(NotFound, match="POST /books"):
        saving.save_new(sessions, chapters_dir, body, index, max_chars=MAX)
    assert jobs(sessions) == [] and send.sent == [] and list(chapters_dir.iterdir()) == []


def test_a_lost_revision_race_is_retried_and_its_index_job_rolled_back(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    book_id = new_book(sessions)
    first = saving.save_new(
        sessions,
        chapters_dir,
        ChapterSave(book_id=book_id, title="A partida", text="Um."),
        saving.IndexJobs(index_chapter_request()),
        max_chars=MAX,
    )
    chapter_id = first.chapter_id
    attempts = []

    def write(session: Session) -> list[ChapterText]:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            # Losing the race: an insert the unique revision number rejects, as when another
            # writer committed the same next number first.
            session.add(ChapterRevision(chapter_id=chapter_id, number=1, title="x", text="x"))
            session.flush()
        saved = update_chapter(
            session,
            book_id=book_id,
            chapter_id=chapter_id,
            title=None,
            text="Dois.",
            expected_revision=None,
            max_chars=MAX,
        )
        return [saved]

    requested: list[Sequence[saving.SavedChapter]] = []

    def request(session: Session, chapters: Sequence[saving.SavedChapter]) -> str | None:
        requested.append(chapters)
        return index_chapter_request()(session, chapters)

    result = saving.save_chapters(sessions, chapters_dir, write, saving.IndexJobs(request))
    assert attempts == [1, 2] and result.chapter.revision == 2 and not result.index_queued
    # The first attempt never reached its index request; the committed save's request merged
    # into the chapter's indexing job still queued from the first save (one pending per chapter).
    assert len(requested) == 1 and len(jobs(sessions)) == 1
    with transaction(sessions) as s:
        assert get_chapter(s, chapter_id).current_revision == 2
        count = s.scalar(select(func.count()).select_from(ChapterRevision))
        assert count == 2 and len(ChapterRepository(s).revisions(chapter_id)) == 2


def test_the_index_request_rolls_back_with_a_failed_write(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    book_id = new_book(sessions)

    def request(session: Session, chapters: Sequence[saving.SavedChapter]) -> str | None:
        index_chapter_request()(session, chapters)
        raise RuntimeError("the save fails after its job was added")

    body = ChapterSave(book_id=book_id, title="T", text="x")
    with pytest.raises(RuntimeError):
        saving.save_new(sessions, chapters_dir, body, saving.IndexJobs(request), max_chars=MAX)
    assert jobs(sessions) == [] and list(chapters_dir.iterdir()) == []
    with transaction(sessions) as s:
        assert ChapterRepository(s).list_for_book(book_id) == []


def test_a_keyed_index_request_gives_a_rerun_the_same_job(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    book_id = new_book(sessions)
    body = ChapterSave(book_id=book_id, title="T", text="x")
    keyed = saving.IndexJobs(index_chapter_request("expand:job-1:index_chapter"))
    first = saving.save_new(sessions, chapters_dir, body, keyed, max_chars=MAX)
    with transaction(sessions) as s:
        chapter = get_chapter(s, first.chapter_id)
        snapshot = saving.snapshot(ChapterText(chapter, current_text(s, chapter)))
        again = keyed.request(s, [snapshot])
    assert [j.id for j in jobs(sessions)] == [again]


def test_titles_names_only_the_asked_chapters_of_the_book(
    sessions: sessionmaker[Session], chapters_dir: Path
) -> None:
    """What a search hit shows (title, position), read for the hits' chapters only."""
    book_id, other_book, index = (
        new_book(sessions),
        new_book(sessions),
        saving.IndexJobs(index_chapter_request(), Sender()),
    )
    saved = [
        saving.save_new(
            sessions, chapters_dir, ChapterSave(book_id=b, title=t, text="x"), index, max_chars=MAX
        )
        for b, t in ((book_id, "Um"), (book_id, "Dois"), (book_id, "Três"), (other_book, "Fora"))
    ]
    one, _, three, outside = (s.chapter_id for s in saved)
    with transaction(sessions) as s:
        repo = ChapterRepository(s)
        wanted = {one, three, outside, "gone"}
        assert repo.titles(book_id, wanted) == {one: ("Um", 1), three: ("Três", 3)}
        assert repo.titles(book_id, set()) == {}
