"""What a writing job reads about its chapter and book, in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass

from services.core.books.service import get_book
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.jobs.context import JobContext


@dataclass(frozen=True)
class ChapterContext:
    book_id: str
    book_title: str
    language: str
    genre: str | None
    synopsis: str | None
    chapter_id: str
    title: str
    position: int
    revision: int
    content_hash: str
    text: str


def read_chapter(ctx: JobContext) -> ChapterContext:
    """The job's chapter (which must belong to the job's book) with its current text."""
    assert ctx.chapter_id is not None
    with transaction(ctx.sessions) as session:
        chapter = get_chapter(session, ctx.chapter_id, book_id=ctx.book_id)
        book = get_book(session, chapter.book_id)
        revision = current_text(session, chapter)
        return ChapterContext(
            book_id=book.id,
            book_title=book.title,
            language=book.language,
            genre=book.genre,
            synopsis=book.synopsis,
            chapter_id=chapter.id,
            title=chapter.title,
            position=chapter.position,
            revision=revision.number,
            content_hash=chapter.content_hash,
            text=revision.text,
        )
