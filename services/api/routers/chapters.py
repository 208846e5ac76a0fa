"""Chapters and their revisions (the original `/chapter/save` and `/chapter/update` kept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from services.api.deps import ChapterId, StateDep
from services.api.state import AppState
from services.core.chapters import saving, service
from services.core.chapters.indexing import index_chapter_request
from services.core.chapters.schemas import (
    ChapterDetail,
    ChapterSave,
    ChapterSaved,
    ChapterUpdate,
    RevisionOut,
)
from services.core.db import transaction

router = APIRouter(tags=["chapters"])


class RestoreRequest(BaseModel):
    revision: int = Field(
        ge=1, le=2_000_000_000, description="Revision number to bring back as the newest one"
    )


def index_jobs(state: AppState) -> saving.IndexJobs:
    """A saved chapter's `index_chapter` job, created with the save and sent after its commit."""
    return saving.IndexJobs(
        request=index_chapter_request(),
        send=state.jobs.send,
    )


@router.post("/chapter/save", status_code=201)
def save_chapter(body: ChapterSave, state: StateDep) -> ChapterSaved:
    """Save a new chapter (revision 1) into a book made with `POST /books`."""
    s = state.settings
    return saving.save_new(
        state.sessions, s.chapters_dir, body, index_jobs(state), max_chars=s.max_text_chars
    )


@router.put("/chapter/update")
def update_chapter(body: ChapterUpdate, state: StateDep) -> ChapterSaved:
    """Overwrite a chapter: appends a revision, the old text stays retrievable."""
    s = state.settings
    return saving.save_update(
        state.sessions, s.chapters_dir, body, index_jobs(state), max_chars=s.max_text_chars
    )


@router.post("/chapters/{chapter_id}/restore")
def restore_revision(chapter_id: ChapterId, body: RestoreRequest, state: StateDep) -> ChapterSaved:
    """Bring an old revision back as the newest one."""
    s = state.settings
    return saving.save_restore(
        state.sessions,
        s.chapters_dir,
        chapter_id,
        body.revision,
        index_jobs(state),
        max_chars=s.max_text_chars,
    )


@router.get("/chapters/{chapter_id}")
def get_chapter(chapter_id: ChapterId, state: StateDep) -> ChapterDetail:
    """A chapter with its current text and the list of its revisions."""
    with transaction(state.sessions) as session:
        return service.chapter_detail(session, chapter_id)


@router.get("/chapters/{chapter_id}/revisions/{number}")
def get_revision(
    chapter_id: ChapterId,
    number: Annotated[int, Path(ge=1, le=2_000_000_000)],
    state: StateDep,
) -> RevisionOut:
    """One revision with its full text."""
    with transaction(state.sessions) as session:
        return service.revision_detail(session, chapter_id, number)
