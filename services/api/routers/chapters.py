"""Chapters and their revisions (the original `/chapter/save` and `/chapter/update` kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.api.deps import ChapterId, StateDep
from services.api.routers.jobs import dispatch_committed
from services.api.state import AppState
from services.core.chapters import service
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.schemas import (
    ChapterDetail,
    ChapterSave,
    ChapterSaved,
    ChapterUpdate,
    RevisionOut,
)
from services.core.db import transaction
from services.core.errors import NotFound
from services.core.files import ChapterFiles
from services.core.jobs.schemas import JobCreate
from services.core.jobs.service import create_job

router = APIRouter(tags=["chapters"])


class RestoreRequest(BaseModel):
    revision: int = Field(
        ge=1, le=2_000_000_000, description="Revision number to bring back as the newest one"
    )


def _saved(state: AppState, write: Callable[[Session], service.ChapterText]) -> ChapterSaved:
    """Run the write, queue the chapter's re-indexing in the same transaction, mirror the file."""
    # Two writers can pick the same next revision number; the unique constraint rejects the
    # loser, who simply tries again on top of the winner, so neither text is lost.
    for attempt in range(3):
        try:
            with transaction(state.sessions) as session:
                saved = write(session)
                chapter, revision = saved.chapter, saved.revision
                out = (chapter.book_id, chapter.id, revision.number, revision.title, revision.text)
                words = chapter.word_count
                index_job, _ = create_job(
                    session,
                    JobCreate(kind="index_chapter", book_id=chapter.book_id, chapter_id=chapter.id),
                )
                index_job_id = index_job.id
            break
        except IntegrityError:
            if attempt == 2:
                raise
    book_id, chapter_id, number, title, text = out
    path = ChapterFiles(state.settings.chapters_dir).write_chapter(book_id, chapter_id, title, text)
    queued = dispatch_committed(state, index_job_id, "index")
    return ChapterSaved(
        book_id=book_id,
        chapter_id=chapter_id,
        revision=number,
        title=title,
        word_count=words,
        file=path.name,
        index_job_id=index_job_id if queued else None,
    )


@router.post("/chapter/save", status_code=201)
def save_chapter(body: ChapterSave, state: StateDep) -> ChapterSaved:
    """Save a new chapter (revision 1)."""
    return _saved(
        state,
        lambda s: service.save_new_chapter(
            s,
            book_id=body.book_id,
            title=body.title,
            text=body.text,
            position=body.position,
            max_chars=state.settings.max_text_chars,
        ),
    )


@router.put("/chapter/update")
def update_chapter(body: ChapterUpdate, state: StateDep) -> ChapterSaved:
    """Overwrite a chapter: appends a revision, the old text stays retrievable."""
    return _saved(
        state,
        lambda s: service.update_chapter(
            s,
            book_id=body.book_id,
            chapter_id=body.chapter_id,
            title=body.title,
            text=body.text,
            expected_revision=body.expected_revision,
            max_chars=state.settings.max_text_chars,
        ),
    )


@router.post("/chapters/{chapter_id}/restore")
def restore_revision(chapter_id: ChapterId, body: RestoreRequest, state: StateDep) -> ChapterSaved:
    """Bring an old revision back as the newest one."""
    return _saved(
        state,
        lambda s: service.restore_revision(
            s, chapter_id=chapter_id, number=body.revision, max_chars=state.settings.max_text_chars
        ),
    )


@router.get("/chapters/{chapter_id}")
def get_chapter(chapter_id: ChapterId, state: StateDep) -> ChapterDetail:
    """A chapter with its current text and the list of its revisions."""
    with transaction(state.sessions) as session:
        chapter = service.get_chapter(session, chapter_id)
        text = service.current_text(session, chapter).text
        revisions = [
            RevisionOut(
                number=r.number,
                title=r.title,
                source=r.source,
                created_at=r.created_at,
                word_count=service.word_count(r.text),
            )
            for r in ChapterRepository(session).revisions(chapter_id)
        ]
        base = ChapterDetail.model_validate(
            {**_columns(chapter), "text": text, "revisions": revisions}
        )
        return base


@router.get("/chapters/{chapter_id}/revisions/{number}")
def get_revision(
    chapter_id: ChapterId,
    number: Annotated[int, Path(ge=1, le=2_000_000_000)],
    state: StateDep,
) -> RevisionOut:
    """One revision with its full text."""
    with transaction(state.sessions) as session:
        service.get_chapter(session, chapter_id)  # 404 for an unknown or trashed chapter
        revision = ChapterRepository(session).revision(chapter_id, number)
        if revision is None:
            raise NotFound(f"chapter {chapter_id!r} has no revision {number}")
        return RevisionOut(
            number=revision.number,
            title=revision.title,
            source=revision.source,
            created_at=revision.created_at,
            word_count=service.word_count(revision.text),
            text=revision.text,
        )


def _columns(chapter: object) -> dict[str, object]:
    names = ChapterDetail.model_fields.keys() - {"text", "revisions", "metadata"}
    return {**{n: getattr(chapter, n) for n in names}, "meta": chapter.meta}
