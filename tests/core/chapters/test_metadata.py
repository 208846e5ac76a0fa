"""Storing extracted metadata on a chapter: only over the text it was extracted from."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.service import (
    get_chapter,
    save_new_chapter,
    set_metadata,
    update_chapter,
)
from services.core.db import transaction
from services.core.errors import NotFound

META = {"genre": "drama", "tone": "melancólico", "characters": ["Ana"]}


def new_chapter(sessions: sessionmaker[Session]) -> tuple[str, str, str]:
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="O Mar"))
        saved = save_new_chapter(
            s, book_id=book.id, title="A partida", text="Ana embarca.", max_chars=1000
        )
        return book.id, saved.chapter.id, saved.chapter.content_hash


def test_metadata_is_stored_over_the_text_it_was_read_from(
    sessions: sessionmaker[Session],
) -> None:
    _, chapter_id, read_hash = new_chapter(sessions)
    with transaction(sessions) as s:
        assert set_metadata(s, chapter_id, META, expected_hash=read_hash) is True
    with transaction(sessions) as s:
        assert get_chapter(s, chapter_id).meta == META
    # A second extraction replaces the first one whole.
    with transaction(sessions) as s:
        assert set_metadata(s, chapter_id, {"genre": "romance"}, expected_hash=read_hash)
    with transaction(sessions) as s:
        assert get_chapter(s, chapter_id).meta == {"genre": "romance"}


def test_metadata_of_an_older_revision_is_not_stored(sessions: sessionmaker[Session]) -> None:
    book_id, chapter_id, read_hash = new_chapter(sessions)
    with transaction(sessions) as s:
        update_chapter(
            s,
            book_id=book_id,
            chapter_id=chapter_id,
            title=None,
            text="Ana desiste de embarcar.",
            expected_revision=None,
            max_chars=1000,
        )
    with transaction(sessions) as s:
        assert set_metadata(s, chapter_id, META, expected_hash=read_hash) is False
    with transaction(sessions) as s:
        assert get_chapter(s, chapter_id).meta == {}
    with transaction(sessions) as s, pytest.raises(NotFound, match="nope"):
        set_metadata(s, "nope", META, expected_hash=read_hash)
