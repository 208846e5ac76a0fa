"""Deleting a book: into the trash (hidden, restorable) first, purged for good later.

Purging removes the book's memory first, then its catalog rows and files: if memory cannot be
reached the book stays in the trash (purge again later) instead of leaving passages behind
that nothing in the catalog points to any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.core.archives.repository import BookRowsRepository
from services.core.archives.sections import book_file_names
from services.core.archives.service import BookMemory
from services.core.books.models import Book
from services.core.books.repository import BookRepository
from services.core.books.service import get_book
from services.core.db import transaction, utcnow
from services.core.errors import InvalidInput, NotFound

log = logging.getLogger("copiloto.audit")


@dataclass(frozen=True)
class TrashedBook:
    book: Book
    purge_after: datetime


def trash_book(session: Session, book_id: str, *, confirm: str | None) -> Book:
    """Move a live book to the trash; `confirm` must be its exact title."""
    book = get_book(session, book_id)
    if confirm != book.title:
        raise InvalidInput(
            f"to delete this book send confirm=<its exact title> ({book.title!r}); it goes to "
            "the trash, from where it can be restored"
        )
    BookRowsRepository(session).set_deleted_at(book_id, utcnow())
    log.warning("book %s moved to the trash", book_id)
    return get_book(session, book_id, include_trashed=True)


def list_trash(session: Session, *, trash_days: float) -> list[TrashedBook]:
    keep = timedelta(days=trash_days)
    return [
        TrashedBook(book, purge_after=book.deleted_at + keep)
        for book in BookRepository(session).list_trashed()
        if book.deleted_at is not None
    ]


def _trashed(session: Session, book_id: str) -> Book:
    book = BookRepository(session).get(book_id)
    if book is None or book.deleted_at is None:
        raise NotFound(f"book {book_id!r} is not in the trash")
    return book


def restore_from_trash(session: Session, book_id: str) -> Book:
    _trashed(session, book_id)
    BookRowsRepository(session).set_deleted_at(book_id, None)
    log.warning("book %s restored from the trash", book_id)
    return get_book(session, book_id)


def purge_book(
    sessions: sessionmaker[Session],
    book_id: str,
    *,
    chapters_dir: Path,
    uploads_dir: Path,
    memory: BookMemory,
) -> int:
    """Remove a trashed book for good: memory, catalog rows, files. Returns passages removed."""
    with transaction(sessions) as session:
        _trashed(session, book_id)
    removed = memory.delete_book(book_id)
    with transaction(sessions) as session:
        _trashed(session, book_id)
        names = book_file_names(session, book_id)
        BookRowsRepository(session).delete_book(book_id)
    # After the commit: a crash in between leaves files of a book that no longer exists,
    # which the glob below also catches on the next purge of anything with this id.
    for path in [chapters_dir / n for n in names] + _leftovers(chapters_dir, uploads_dir, book_id):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", path, exc_info=True)
    log.warning("book %s purged: %s passages of memory removed", book_id, removed)
    return removed


def _leftovers(chapters_dir: Path, uploads_dir: Path, book_id: str) -> list[Path]:
    """Files named after the book (ids are `[a-z0-9-]`, so the pattern cannot match another)."""
    found: list[Path] = []
    for folder in (chapters_dir, uploads_dir):
        if folder.is_dir():
            found += [p for p in folder.glob(f"{book_id}__*") if p.is_file()]
    return found


def purge_expired(
    sessions: sessionmaker[Session],
    *,
    trash_days: float,
    chapters_dir: Path,
    uploads_dir: Path,
    memory: BookMemory,
    now: datetime | None = None,
) -> list[str]:
    """Purge every book in the trash longer than TRASH_DAYS; a failure is logged and the book
    waits for the next pass. Returns the ids purged."""
    cutoff = (now or utcnow()) - timedelta(days=trash_days)
    with transaction(sessions) as session:
        expired = [b.id for b in BookRepository(session).list_trashed(deleted_before=cutoff)]
    purged = []
    for book_id in expired:
        try:
            purge_book(
                sessions,
                book_id,
                chapters_dir=chapters_dir,
                uploads_dir=uploads_dir,
                memory=memory,
            )
            purged.append(book_id)
        except Exception:
            log.warning("could not purge expired book %s; will retry", book_id, exc_info=True)
    return purged


class LazyBookMemory:
    """Memory reached only when a book is actually purged: listing the trash or a worker's
    periodic pass must not need Chroma (or load anything) when nothing has expired."""

    def __init__(self, factory: Callable[[], BookMemory]) -> None:
        self._factory = factory
        self._memory: BookMemory | None = None

    def delete_book(self, book_id: str) -> int:
        if self._memory is None:
            self._memory = self._factory()
        return self._memory.delete_book(book_id)
