"""Book archives (download, restore), deleting a book into the trash, and the trash itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.api.deps import BookId, StateDep
from services.api.state import AppState
from services.core.archives import trash
from services.core.archives.container import ArchiveTooLarge
from services.core.archives.service import (
    ARCHIVE_MEDIA_TYPE,
    build_book_archive,
    restore_book_archive,
)
from services.core.books.schemas import BookOut
from services.core.db import UtcDatetime, transaction

router = APIRouter(tags=["archives"])


class RestoreOut(BaseModel):
    book_id: str
    title: str
    mode: str
    replaced: bool = Field(description="An existing book with these ids was replaced")
    chapters: int
    revisions: int
    artifacts: int
    files: int
    reindex_job_id: str | None = Field(
        description="The reindex_book job rebuilding the book's memory (follow its progress)"
    )


class TrashItem(BaseModel):
    book: BookOut
    deleted_at: UtcDatetime
    purge_after: UtcDatetime = Field(description="When it is purged for good (TRASH_DAYS)")


class PurgeOut(BaseModel):
    book_id: str
    memory_deleted: int = Field(description="Passages removed from memory")


def _memory(state: AppState) -> trash.LazyBookMemory:
    return trash.LazyBookMemory(lambda: state.memory)


def _trash_item(item: trash.TrashedBook) -> TrashItem:
    deleted_at: datetime = item.book.deleted_at or item.purge_after
    return TrashItem(
        book=BookOut.model_validate(item.book), deleted_at=deleted_at, purge_after=item.purge_after
    )


@router.get(
    "/books/{book_id}/archive",
    response_class=Response,
    responses={200: {"content": {ARCHIVE_MEDIA_TYPE: {}}}},
)
def download_archive(book_id: BookId, state: StateDep) -> Response:
    """The whole book as one zip: every chapter with all its revisions, artifacts and files,
    as plain JSON and Markdown, with a manifest of SHA-256 checksums."""
    with transaction(state.sessions) as session:
        name, data = build_book_archive(session, book_id, state.settings.chapters_dir)
    return Response(
        data,
        media_type=ARCHIVE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/books/restore", status_code=201)
def restore_archive(
    state: StateDep,
    file: Annotated[UploadFile, File(description="A book archive (.copiloto.zip)")],
    mode: Literal["new", "as_new", "replace"] = Query(
        "new",
        description="new: refuse (409) if the book exists; as_new: new ids for everything; "
        "replace: overwrite the existing book (needs confirm)",
    ),
    confirm: str | None = Query(
        None, max_length=300, description="replace: the exact title of the book replaced"
    ),
) -> RestoreOut:
    """Rebuild a book from its archive, all or nothing, then queue its reindex (a damaged,
    tampered, too new or hostile archive gets a 4xx naming the problem, and nothing is written)."""
    limit = state.settings.max_archive_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ArchiveTooLarge(f"the archive is larger than {limit:,} bytes (MAX_ARCHIVE_BYTES)")
    restored = restore_book_archive(
        state.sessions,
        data,
        settings=state.settings,
        mode=mode,
        confirm=confirm,
        memory=_memory(state),
    )
    job_id = restored.reindex_job_id
    if job_id in state.jobs.send(restored.follow_ups):
        job_id = None  # the broker refused it: the job is marked failed
    return RestoreOut(
        book_id=restored.book_id,
        title=restored.title,
        mode=restored.mode,
        replaced=restored.replaced,
        chapters=restored.chapters,
        revisions=restored.revisions,
        artifacts=restored.artifacts,
        files=restored.files,
        reindex_job_id=job_id,
    )


@router.delete("/books/{book_id}")
def delete_book(
    book_id: BookId,
    state: StateDep,
    confirm: str = Query(..., max_length=300, description="The book's exact title"),
) -> TrashItem:
    """Move a book to the trash (restorable for TRASH_DAYS); `confirm` is its exact title."""
    with transaction(state.sessions) as session:
        book = trash.trash_book(session, book_id, confirm=confirm)
        deleted_at = book.deleted_at
        assert deleted_at is not None
        item = trash.TrashedBook(
            book, purge_after=deleted_at + timedelta(days=state.settings.trash_days)
        )
        return _trash_item(item)


@router.get("/trash")
def list_trash(state: StateDep) -> list[TrashItem]:
    """Books in the trash, most recently deleted first. Books past TRASH_DAYS are purged now."""
    s = state.settings
    trash.purge_expired(
        state.sessions,
        trash_days=s.trash_days,
        chapters_dir=s.chapters_dir,
        uploads_dir=s.uploads_dir,
        memory=_memory(state),
    )
    with transaction(state.sessions) as session:
        return [_trash_item(i) for i in trash.list_trash(session, trash_days=s.trash_days)]


@router.post("/trash/{book_id}/restore")
def restore_from_trash(book_id: BookId, state: StateDep) -> BookOut:
    """Take a book out of the trash, exactly as it was."""
    with transaction(state.sessions) as session:
        return BookOut.model_validate(trash.restore_from_trash(session, book_id))


@router.delete("/trash/{book_id}")
def purge_book(book_id: BookId, state: StateDep) -> PurgeOut:
    """Delete a book in the trash for good: its catalog rows, files and memory."""
    s = state.settings
    removed = trash.purge_book(
        state.sessions,
        book_id,
        chapters_dir=s.chapters_dir,
        uploads_dir=s.uploads_dir,
        memory=_memory(state),
    )
    return PurgeOut(book_id=book_id, memory_deleted=removed)
