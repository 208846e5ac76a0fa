"""Saving chapters as revisions: an overwrite appends, nothing is ever lost."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.core.books.models import Book
from services.core.books.service import get_book
from services.core.chapters.models import Chapter, ChapterRevision
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.schemas import (
    BookMetadataOut,
    ChapterDetail,
    ChapterMetadataOut,
    ChapterOut,
    RevisionOut,
)
from services.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from services.core.ids import new_short_id


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n\n{text}".encode()).hexdigest()


def word_count(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class ChapterText:
    chapter: Chapter
    revision: ChapterRevision


def _check_text(text: str, max_chars: int) -> str:
    if "\x00" in text:
        raise InvalidInput("text must not contain NUL characters")
    if len(text) > max_chars:
        raise PayloadTooLarge(
            f"text has {len(text):,} characters; the limit is {max_chars:,} (MAX_TEXT_CHARS)"
        )
    if not text.strip():
        raise InvalidInput("text must not be empty")
    return text


def save_new_chapter(
    session: Session,
    *,
    book_id: str,
    title: str,
    text: str,
    max_chars: int,
    position: int | None = None,
    source: str = "author",
    chapter_id: str | None = None,
) -> ChapterText:
    """`chapter_id` lets a job derive the id from itself, so running it twice saves one chapter."""
    get_book(session, book_id)
    _check_text(text, max_chars)
    repo = ChapterRepository(session)
    chapter = repo.add(
        Chapter(
            id=chapter_id or new_short_id(),
            book_id=book_id,
            position=position or repo.next_position(book_id),
            title=title,
            current_revision=1,
            word_count=word_count(text),
            content_hash=content_hash(title, text),
            meta={},
        )
    )
    revision = repo.add_revision(
        ChapterRevision(chapter_id=chapter.id, number=1, title=title, text=text, source=source)
    )
    return ChapterText(chapter, revision)


def get_chapter(session: Session, chapter_id: str, book_id: str | None = None) -> Chapter:
    chapter = ChapterRepository(session).get(chapter_id)
    if (
        chapter is None
        or (book_id is not None and chapter.book_id != book_id)
        or not _book_is_live(session, chapter.book_id)
    ):
        raise NotFound(
            f"chapter {chapter_id!r} not found" + (f" in book {book_id!r}" if book_id else "")
        )
    return chapter


def list_chapters(session: Session, book_id: str) -> list[ChapterOut]:
    """The book's chapters in reading order, without their text."""
    get_book(session, book_id)
    chapters = ChapterRepository(session).list_for_book(book_id)
    return [ChapterOut.model_validate(c) for c in chapters]


def book_metadata(session: Session, book_id: str) -> BookMetadataOut:
    """Each chapter's extracted metadata and summary, in reading order."""
    book = get_book(session, book_id)
    chapters = ChapterRepository(session).list_for_book(book_id)
    return BookMetadataOut(
        book_id=book.id,
        title=book.title,
        language=book.language,
        genre=book.genre,
        chapters=[
            ChapterMetadataOut(
                chapter_id=c.id,
                position=c.position,
                title=c.title,
                metadata=c.meta or {},
                summary=c.summary,
                indexed=c.in_memory,
            )
            for c in chapters
        ],
    )


def chapter_detail(session: Session, chapter_id: str) -> ChapterDetail:
    """A chapter with its current text and the list of its revisions (without their text)."""
    chapter = get_chapter(session, chapter_id)
    revisions = [
        RevisionOut(
            number=r.number,
            title=r.title,
            source=r.source,
            created_at=r.created_at,
            word_count=word_count(r.text),
        )
        for r in ChapterRepository(session).revisions(chapter_id)
    ]
    names = ChapterDetail.model_fields.keys() - {"text", "revisions", "metadata"}
    columns = {n: getattr(chapter, n) for n in names}
    text = current_text(session, chapter).text
    return ChapterDetail.model_validate(
        {**columns, "meta": chapter.meta, "text": text, "revisions": revisions}
    )


def revision_detail(session: Session, chapter_id: str, number: int) -> RevisionOut:
    """One revision with its full text."""
    get_chapter(session, chapter_id)  # 404 for an unknown or trashed chapter
    revision = ChapterRepository(session).revision(chapter_id, number)
    if revision is None:
        raise NotFound(f"chapter {chapter_id!r} has no revision {number}")
    return RevisionOut(
        number=revision.number,
        title=revision.title,
        source=revision.source,
        created_at=revision.created_at,
        word_count=word_count(revision.text),
        text=revision.text,
    )


def _book_is_live(session: Session, book_id: str) -> bool:
    """A chapter of a book in the trash is hidden like its book."""
    book = session.get(Book, book_id)
    return book is not None and book.deleted_at is None


def current_text(session: Session, chapter: Chapter) -> ChapterRevision:
    revision = ChapterRepository(session).revision(chapter.id, chapter.current_revision)
    if revision is None:  # pragma: no cover - guarded by the save functions
        raise NotFound(f"chapter {chapter.id!r} has no revision {chapter.current_revision}")
    return revision


def update_chapter(
    session: Session,
    *,
    book_id: str,
    chapter_id: str,
    title: str | None,
    text: str | None,
    expected_revision: int | None,
    max_chars: int,
    source: str = "author",
) -> ChapterText:
    """Append a revision; `expected_revision` turns a stale overwrite into a 409."""
    if title is None and text is None:
        raise InvalidInput("nothing to update: send a new title, a new text or both")
    repo = ChapterRepository(session)
    chapter = repo.get(chapter_id, for_update=True)
    if chapter is None or chapter.book_id != book_id or not _book_is_live(session, book_id):
        raise NotFound(f"chapter {chapter_id!r} not found in book {book_id!r}")
    if expected_revision is not None and expected_revision != chapter.current_revision:
        raise Conflict(
            f"chapter {chapter_id!r} is at revision {chapter.current_revision}, "
            f"not {expected_revision}: reload it and apply your change again"
        )
    previous = current_text(session, chapter)
    new_title = title if title is not None else chapter.title
    new_text = _check_text(text, max_chars) if text is not None else previous.text
    return _append_revision(session, chapter, new_title, new_text, source)


def restore_revision(
    session: Session, *, chapter_id: str, number: int, max_chars: int
) -> ChapterText:
    """Restoring copies an old revision forward as the newest one, so history stays linear."""
    repo = ChapterRepository(session)
    chapter = repo.get(chapter_id, for_update=True)
    if chapter is None or not _book_is_live(session, chapter.book_id):
        raise NotFound(f"chapter {chapter_id!r} not found")
    old = repo.revision(chapter_id, number)
    if old is None:
        raise NotFound(f"chapter {chapter_id!r} has no revision {number}")
    return _append_revision(
        session, chapter, old.title, _check_text(old.text, max_chars), "restore"
    )


def _append_revision(
    session: Session, chapter: Chapter, title: str, text: str, source: str
) -> ChapterText:
    repo = ChapterRepository(session)
    number = chapter.current_revision + 1
    revision = repo.add_revision(
        ChapterRevision(chapter_id=chapter.id, number=number, title=title, text=text, source=source)
    )
    chapter.current_revision = number
    chapter.title = title
    chapter.word_count = word_count(text)
    chapter.content_hash = content_hash(title, text)
    session.flush()
    return ChapterText(chapter, revision)


def set_metadata(
    session: Session, chapter_id: str, data: dict[str, Any], *, expected_hash: str
) -> bool:
    """Store extracted metadata unless the chapter changed since it was read (then False):
    written over a newer revision, it would describe a text it was not extracted from."""
    if ChapterRepository(session).set_metadata(chapter_id, expected_hash, data):
        return True
    get_chapter(session, chapter_id)  # a deleted chapter is a 404, not a stale read
    return False
