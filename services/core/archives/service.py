"""Book archives: write one, and restore one all or nothing.

A restore reads and validates the whole archive in memory first; then one transaction inserts
every row (and the reindex job), while the files are staged beside their targets; only after
the commit are they renamed into place. A failure anywhere before the commit leaves the catalog
and the data folder as they were; a killed process leaves at most hidden `.tmp` files, never a
half-restored book (its rows are one transaction).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.core.archives.container import (
    ArchiveLimits,
    ArchiveRejected,
    read_container,
    write_container,
)
from services.core.archives.repository import BookRowsRepository
from services.core.archives.sections import (
    SECTIONS,
    BookData,
    ExportSource,
    IdMap,
    SectionVersions,
    book_file_names,
)
from services.core.books.models import Book
from services.core.books.repository import BookRepository
from services.core.books.service import get_book
from services.core.config import Settings
from services.core.db import transaction
from services.core.errors import Conflict, InvalidInput
from services.core.ids import new_short_id, new_uuid, slugify
from services.core.jobs import outbox
from services.core.jobs.outbox import FollowUp
from services.core.jobs.schemas import JobCreate
from services.core.jobs.submission import create_job

log = logging.getLogger("copiloto.audit")

RestoreMode = Literal["new", "as_new", "replace"]
ARCHIVE_MEDIA_TYPE = "application/zip"


class BookMemory(Protocol):
    """What archives need of memory (services.core.memory.store.MemoryStore)."""

    def delete_book(self, book_id: str) -> int: ...


def archive_file_name(book_id: str, title: str) -> str:
    """Built from a slug of the title and the server-made id, never from raw user text."""
    return f"{slugify(title)}-{book_id}.copiloto.zip"


def build_book_archive(session: Session, book_id: str, chapters_dir: Path) -> tuple[str, bytes]:
    """(file name, zip bytes) of the whole book, read in the caller's transaction."""
    book = get_book(session, book_id)
    source = ExportSource(session, book, chapters_dir)
    members: dict[str, bytes] = {}
    for section in SECTIONS:
        members.update(section.export(source))
    data = write_container(
        members,
        {
            "book": {"id": book.id, "title": book.title},
            SectionVersions.KEY: SectionVersions.of(SECTIONS),
        },
    )
    return archive_file_name(book.id, book.title), data


def read_book_archive(data: bytes, limits: ArchiveLimits, max_text_chars: int) -> BookData:
    """The archive's book, every part validated; raises a 4xx error naming the problem."""
    contents = read_container(data, limits)
    SectionVersions.check(contents.manifest, SECTIONS)
    book = BookData()
    used: set[str] = set()
    for section in SECTIONS:
        used |= section.load(contents.members, book, max_text_chars)
    for name in sorted(contents.members.keys() - used):
        raise ArchiveRejected(f"archive member {name!r} belongs to no part of a book archive")
    book.book_record  # noqa: B018 - raises when the archive has no book
    return book


@dataclass(frozen=True)
class RestoredBook:
    book_id: str
    title: str
    mode: str
    replaced: bool
    chapters: int
    revisions: int
    artifacts: int
    files: int
    reindex_job_id: str | None
    follow_ups: list[FollowUp]  # the reindex job, for the caller to send after the commit


def restore_book_archive(
    sessions: sessionmaker[Session],
    data: bytes,
    *,
    settings: Settings,
    mode: RestoreMode = "new",
    confirm: str | None = None,
    memory: BookMemory | None = None,
    reindex: bool = True,
) -> RestoredBook:
    """Rebuild the archived book exactly (same ids unless `as_new`), all or nothing.

    The reindex job is committed with the rows; the caller sends it (it is queued: a lost send
    is sent again by the workers' recovery scan)."""
    book = read_book_archive(data, ArchiveLimits.from_settings(settings), settings.max_text_chars)
    staged = StagedFiles(settings.chapters_dir)
    try:
        with transaction(sessions) as session:
            existing = BookRepository(session).get(book.book_record.id)
            ids = _plan_ids(session, book, mode, confirm, existing)
            old_files: list[str] = []
            if existing is not None and mode == "replace":
                old_files = book_file_names(session, existing.id)
                BookRowsRepository(session).delete_book(existing.id)
            files: dict[str, bytes] = {}
            for section in SECTIONS:
                files.update(section.restore(session, book, ids))
            job_id = None
            if reindex:
                job, _ = create_job(
                    session,
                    JobCreate(kind="reindex_book", book_id=ids.book, params={"force": True}),
                )
                job_id = job.id
            follow_ups = outbox.take(session)
            staged.stage(files)
    except IntegrityError:
        staged.discard()
        raise Conflict(
            "another restore or save wrote this book's ids meanwhile: nothing was restored; "
            "try again (mode=as_new restores it with new ids)"
        ) from None
    except BaseException:
        staged.discard()
        raise
    staged.commit()
    for name in set(old_files) - files.keys():
        _remove(settings.chapters_dir / name)
    if memory is not None:
        # Passages of an earlier book with these ids must not answer for the restored one;
        # the reindex (force) rebuilds them. Best effort: the rows are already committed.
        try:
            memory.delete_book(ids.book)
        except Exception:
            log.warning("could not clear memory of restored book %s", ids.book, exc_info=True)
    record = book.book_record
    log.warning(
        "book %s restored from an archive (mode %s%s)",
        ids.book,
        mode,
        f", replacing {existing.id}" if existing is not None and mode == "replace" else "",
    )
    return RestoredBook(
        book_id=ids.book,
        title=record.title,
        mode=mode,
        replaced=existing is not None and mode == "replace",
        chapters=len(book.chapters),
        revisions=sum(len(c.record.revisions) for c in book.chapters),
        artifacts=len(book.artifacts),
        files=len(files),
        reindex_job_id=job_id,
        follow_ups=follow_ups,
    )


def _plan_ids(
    session: Session,
    book: BookData,
    mode: RestoreMode,
    confirm: str | None,
    existing: Book | None,
) -> IdMap:
    record = book.book_record
    if mode == "as_new":
        return IdMap(
            book=new_short_id(),
            chapters={c.record.id: new_short_id() for c in book.chapters},
            artifacts={a.id: new_uuid().replace("-", "")[:20] for a in book.artifacts},
            jobs={a.job_id: new_uuid() for a in book.artifacts},
        )
    if existing is not None:
        where = " (in the trash)" if existing.deleted_at is not None else ""
        if mode != "replace":
            raise Conflict(
                f"book {existing.id!r} ({existing.title!r}) already exists here{where}: restore "
                "with mode=as_new to add the archive as a new book with new ids, or with "
                "mode=replace and confirm=<its exact title> to replace it; nothing was changed"
            )
        if confirm != existing.title:
            raise InvalidInput(
                f"to replace book {existing.id!r} send confirm=<its exact title> "
                f"({existing.title!r})"
            )
    replaced = existing.id if existing is not None else None
    rows = BookRowsRepository(session)
    for chapter_id, owner in rows.existing_chapter_ids(
        [c.record.id for c in book.chapters]
    ).items():
        if owner != replaced:
            raise Conflict(
                f"chapter {chapter_id!r} of the archive belongs to another book here "
                f"({owner!r}): restore with mode=as_new; nothing was changed"
            )
    clashes = rows.existing_artifacts(
        [a.id for a in book.artifacts], [a.job_id for a in book.artifacts]
    )
    for artifact_id, owner in clashes.items():
        if owner != replaced:
            raise Conflict(
                f"artifact {artifact_id!r} of the archive already exists here: restore with "
                "mode=as_new; nothing was changed"
            )
    return IdMap(
        book=record.id,
        chapters={c.record.id: c.record.id for c in book.chapters},
        artifacts={a.id: a.id for a in book.artifacts},
        jobs={a.job_id: a.job_id for a in book.artifacts},
    )


class StagedFiles:
    """Files written beside their targets under hidden temporary names, renamed into place
    only once the catalog committed (or deleted if it did not)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staged: list[tuple[Path, Path]] = []

    # Hidden temporary files older than this were left by a killed restore or write (atomic
    # writes finish in well under a second); the next restore sweeps them.
    STALE_AFTER_S = 3600.0

    def stage(self, files: Mapping[str, bytes]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_stale()
        resolved_root = self.root.resolve()
        for name, data in files.items():
            target = (self.root / name).resolve()
            if target.parent != resolved_root:
                raise ArchiveRejected(f"refusing to write outside the chapters folder: {name!r}")
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{name}.", suffix=".tmp")
            self._staged.append((Path(tmp), target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())

    def _sweep_stale(self) -> None:
        cutoff = time.time() - self.STALE_AFTER_S
        for path in self.root.glob(".*.tmp"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue

    def commit(self) -> None:
        for tmp, target in self._staged:
            os.replace(tmp, target)
        self._staged.clear()

    def discard(self) -> None:
        for tmp, _ in self._staged:
            _remove(tmp)
        self._staged.clear()


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove %s", path, exc_info=True)
