"""Chapters that exist only as files in `data/chapters/` (the original layout) join the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from services.core.books.models import Book
from services.core.books.repository import BookRepository
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import save_new_chapter

# `<book_id>__<chapter_id>.md`; artifacts (`sugest_<slug>__<id>.md`…) have an underscore in the
# first part, which ids never have, so they are not mistaken for chapters.
_CHAPTER_FILE = re.compile(r"^([a-z0-9][a-z0-9-]{0,63})__([a-z0-9][a-z0-9-]{0,63})\.md$")


def parse_chapter_file(text: str, fallback_title: str) -> tuple[str, str]:
    """(title, body) of a mirror file: a `# Title` first line, then the text."""
    lines = text.strip("\ufeff").splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0][2:].strip()[:300] or fallback_title, "\n".join(lines[1:]).strip()
    return fallback_title, text.strip()


def import_chapter_files(
    session: Session, chapters_dir: Path, *, max_chars: int, book_id: str | None = None
) -> list[tuple[str, str]]:
    """Add to the catalog every chapter file it lacks; returns (book_id, chapter_id) of each.

    A file whose book is unknown creates that book, titled after its id, so nothing on disk is
    ignored; empty, unreadable or oversized files are skipped, never half-imported.
    """
    if not chapters_dir.is_dir():
        return []
    books, chapters = BookRepository(session), ChapterRepository(session)
    imported: list[tuple[str, str]] = []
    for path in sorted(chapters_dir.iterdir()):
        match = _CHAPTER_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        file_book, chapter_id = match.groups()
        if (book_id is not None and file_book != book_id) or chapters.get(chapter_id):
            continue
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        title, body = parse_chapter_file(raw, fallback_title=chapter_id)
        if not body or len(body) > max_chars or "\x00" in body:
            continue
        if books.get(file_book) is None:
            books.add(Book(id=file_book, title=f"Livro {file_book}", language="pt-BR"))
        with session.begin_nested():
            save_new_chapter(
                session,
                book_id=file_book,
                title=title,
                text=body,
                max_chars=max_chars,
                source="import",
                chapter_id=chapter_id,
            )
        imported.append((file_book, chapter_id))
    return imported
