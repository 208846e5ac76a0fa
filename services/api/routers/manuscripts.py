"""Whole manuscripts: import a book file (with a dry-run preview), reindex, export."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.api.deps import BookId, JobSubmission, StateDep
from services.api.routers.jobs import IdempotencyKey
from services.core.db import transaction
from services.core.jobs.schemas import JobCreate, JobOut
from services.core.manuscripts.exporting import (
    MEDIA_TYPES,
    export_book,
    export_file_name,
)
from services.core.manuscripts.schemas import ManuscriptPreview
from services.core.manuscripts.service import (
    ManuscriptUploads,
    book_for_export,
    prepare_import,
)

router = APIRouter(tags=["manuscripts"])


class ReindexRequest(BaseModel):
    force: bool = Field(default=False, description="Rebuild every chapter, even unchanged ones")
    summarize: bool = Field(default=False, description="Then queue LLM summaries (llm queue)")


class ImportJobOut(JobOut):
    job_id: str
    preview: ManuscriptPreview = Field(description="How the file splits into chapters")


class SubmittedJobOut(JobOut):
    job_id: str


def _display_name(filename: str | None) -> str:
    """The upload's own name, for messages only: never used as a path."""
    name = PurePath((filename or "").replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable())[:255]


@router.post(
    "/books/{book_id}/import",
    status_code=202,
    dependencies=[JobSubmission],
    response_model=ImportJobOut,
    responses={200: {"model": ManuscriptPreview, "description": "dry_run: the split only"}},
)
def import_manuscript(
    book_id: BookId,
    state: StateDep,
    file: Annotated[UploadFile, File(description="A .md, .txt, .docx or .epub book file")],
    dry_run: bool = Query(False, description="Only show how the file splits; save nothing"),
    reindex: bool = Query(True, description="Index the book once the chapters are saved"),
    summarize: bool = Query(False, description="Also queue LLM summaries of the chapters"),
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Import a book file as chapters (an `import_manuscript` job; 202), or preview its split
    with `dry_run=true` (200). A 4xx says what is wrong with a bad file; nothing is saved then."""
    limit = state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    split, request = prepare_import(
        state.sessions,
        ManuscriptUploads(state.settings.uploads_dir),
        book_id,
        _display_name(file.filename),
        data,
        max_bytes=limit,
        keep=not dry_run,
        reindex=reindex,
        summarize=summarize,
    )
    if request is None:
        return JSONResponse(split.model_dump(mode="json"), status_code=200)
    snapshot, created = state.jobs.submit(request, idempotency_key)
    body = {**snapshot, "preview": split.model_dump(mode="json")}
    return JSONResponse(body, status_code=202 if created else 200)


@router.post(
    "/books/{book_id}/reindex",
    status_code=202,
    dependencies=[JobSubmission],
    responses={200: {"description": "A reindex of the book already pending covers the request"}},
    response_model=SubmittedJobOut,
)
def reindex_book(
    book_id: BookId,
    state: StateDep,
    body: ReindexRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Index the whole book (a `reindex_book` job, one child job per chapter; 202). Chapters
    already indexed are skipped unless `force`. One reindex per book at a time: while one is
    pending, a request it covers answers 200 with it; one asking for more (`force` after a
    plain run) is queued once, to run after it (202)."""
    request = body or ReindexRequest()
    job = JobCreate(kind="reindex_book", book_id=book_id, params=request.model_dump())
    snapshot, created = state.jobs.submit(job, idempotency_key)
    return JSONResponse(snapshot, status_code=202 if created else 200)


@router.get(
    "/books/{book_id}/export",
    response_class=Response,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
def export(
    book_id: BookId,
    state: StateDep,
    format: Literal["md", "docx", "epub"] = Query("md", description="md, docx or epub"),
) -> Response:
    """The book as one file: chapters in order, titles as headings, the book's metadata."""
    with transaction(state.sessions) as session:
        book, chapters = book_for_export(session, book_id)
    data = export_book(book, chapters, format)
    name = export_file_name(book, format)
    return Response(
        data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
