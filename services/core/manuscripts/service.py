"""Whole manuscripts: previewing an upload's split, keeping the upload for the import job,
saving its chapters idempotently, and reading a book back for export."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import ChapterText, current_text, save_new_chapter
from services.core.db import transaction
from services.core.errors import NotFound, PayloadTooLarge
from services.core.files import atomic_write_bytes
from services.core.ids import is_valid_id
from services.core.jobs.schemas import JobCreate
from services.core.manuscripts.exporting import BookInfo
from services.core.manuscripts.parsing import (
    Manuscript,
    ParsedChapter,
    manuscript_format,
    parse_manuscript,
)
from services.core.manuscripts.schemas import ChapterPreview, ManuscriptPreview

PREVIEW_CHARS = 160


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_chapter_id(book_id: str, sha256: str, index: int) -> str:
    """Derived from the book, the file and the chapter's place in it: importing the same file
    again (or running the import job twice) finds its chapters instead of adding copies."""
    return hashlib.sha256(f"{book_id}:{sha256}:{index}".encode()).hexdigest()[:16]


class ManuscriptUploads:
    """Uploads wait in DATA_DIR/uploads for their import job, named by book id and content hash
    (server-made strings only); the job deletes the file once the chapters are saved."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, book_id: str, sha256: str, fmt: str) -> Path:
        if not is_valid_id(book_id) or len(sha256) != 64 or not sha256.isalnum():
            raise ValueError("upload names are made of a book id and a content hash only")
        if fmt not in ("md", "txt", "docx", "epub"):
            raise ValueError(f"unknown manuscript format {fmt!r}")
        path = (self.root / f"{book_id}__{sha256}.{fmt}").resolve()
        if path.parent != self.root.resolve():  # pragma: no cover - guarded above
            raise ValueError("refusing a path outside the uploads folder")
        return path

    def keep(self, book_id: str, sha256: str, fmt: str, data: bytes) -> Path:
        path = self.path(book_id, sha256, fmt)
        atomic_write_bytes(path, data)
        return path

    def read(self, book_id: str, sha256: str, fmt: str) -> bytes:
        path = self.path(book_id, sha256, fmt)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(
                "the uploaded file is no longer on the server: upload it again"
            ) from None

    def remove(self, book_id: str, sha256: str, fmt: str) -> None:
        self.path(book_id, sha256, fmt).unlink(missing_ok=True)


def check_upload_size(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(
            f"the file has {size:,} bytes; the upload limit is {limit:,} (MAX_UPLOAD_BYTES)"
        )


def prepare_import(
    sessions: sessionmaker[Session],
    uploads: ManuscriptUploads,
    book_id: str,
    filename: str,
    data: bytes,
    *,
    max_bytes: int,
    keep: bool,
    reindex: bool,
    summarize: bool,
) -> tuple[ManuscriptPreview, JobCreate | None]:
    """Check and split an uploaded book file. With `keep`, the file waits in the uploads folder
    and the `import_manuscript` job to submit comes back too; without, the split only.

    `filename` is for messages and the file type only, never a path. A bad file raises a 4xx
    error here, before anything is saved."""
    fmt = manuscript_format(filename)
    check_upload_size(len(data), max_bytes)
    with transaction(sessions) as session:
        language = get_book(session, book_id).language
    manuscript = parse_manuscript(filename, data, language=language)
    sha256 = file_sha256(data)
    with transaction(sessions) as session:
        split = preview(session, book_id, filename, sha256, manuscript)
    if not keep:
        return split, None
    uploads.keep(book_id, sha256, fmt, data)
    params = {
        "sha256": sha256,
        "format": fmt,
        "filename": filename,
        "reindex": reindex,
        "summarize": summarize,
    }
    return split, JobCreate(kind="import_manuscript", book_id=book_id, params=params)


def preview(
    session: Session, book_id: str, filename: str, sha256: str, manuscript: Manuscript
) -> ManuscriptPreview:
    repo = ChapterRepository(session)
    already = repo.get(import_chapter_id(book_id, sha256, 0)) is not None
    return ManuscriptPreview(
        book_id=book_id,
        filename=filename,
        format=manuscript.format,
        sha256=sha256,
        split=manuscript.split,
        total_chapters=len(manuscript.chapters),
        total_words=manuscript.word_count,
        metadata=manuscript.metadata,
        front_matter=manuscript.front_matter,
        already_imported=already,
        chapters=[
            ChapterPreview(
                index=n,
                title=c.title,
                word_count=c.word_count,
                preview=" ".join(c.text[: PREVIEW_CHARS * 2].split())[:PREVIEW_CHARS],
            )
            for n, c in enumerate(manuscript.chapters, start=1)
        ],
    )


@dataclass(frozen=True)
class SavedManuscript:
    created: list[ChapterText]  # the chapters added now
    existing: list[str]  # ids of chapters an earlier import of the same file already saved


def saved_import_chapter_ids(session: Session, book_id: str, sha256: str) -> list[str]:
    """The chapters an import of this file has saved in the book, in file order."""
    repo = ChapterRepository(session)
    found: list[str] = []
    while repo.get(chapter_id := import_chapter_id(book_id, sha256, len(found))) is not None:
        found.append(chapter_id)
    return found


def save_manuscript(
    session: Session, book_id: str, sha256: str, manuscript: Manuscript, *, max_chars: int
) -> SavedManuscript:
    """Every chapter in one transaction (all or none), appended after the book's chapters."""
    get_book(session, book_id)
    repo = ChapterRepository(session)
    position = repo.next_position(book_id)
    created: list[ChapterText] = []
    existing: list[str] = []
    for index, chapter in enumerate(manuscript.chapters):
        chapter_id = import_chapter_id(book_id, sha256, index)
        if repo.get(chapter_id) is not None:
            existing.append(chapter_id)
            continue
        saved = save_new_chapter(
            session,
            book_id=book_id,
            title=chapter.title,
            text=chapter.text,
            max_chars=max_chars,
            position=position,
            source="import",
            chapter_id=chapter_id,
        )
        position += 1
        created.append(saved)
    return SavedManuscript(created, existing)


def book_for_export(session: Session, book_id: str) -> tuple[BookInfo, list[ParsedChapter]]:
    book = get_book(session, book_id)
    info = BookInfo(book.id, book.title, book.language, book.genre, book.synopsis)
    chapters = [
        ParsedChapter(chapter.title, current_text(session, chapter).text)
        for chapter in ChapterRepository(session).list_for_book(book_id)
    ]
    return info, chapters
