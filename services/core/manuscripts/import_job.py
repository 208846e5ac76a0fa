"""`import_manuscript`: an uploaded book file becomes chapters, then the book is reindexed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.core.books.service import get_book
from services.core.chapters.saving import IndexJobs, SavedChapter, save_chapters
from services.core.chapters.service import ChapterText, current_text, get_chapter
from services.core.db import transaction
from services.core.errors import NotFound
from services.core.files import ChapterFiles
from services.core.jobs import outbox
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.outbox import FollowUp
from services.core.jobs.schemas import ImportManuscriptParams, JobCreate
from services.core.jobs.service import get_job, queue_for
from services.core.jobs.submission import create_job
from services.core.manuscripts.parsing import parse_manuscript
from services.core.manuscripts.service import (
    ManuscriptUploads,
    save_manuscript,
    saved_import_chapter_ids,
)


def run_import_manuscript(ctx: JobContext) -> JobOutput:
    params = ImportManuscriptParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    uploads = ManuscriptUploads(ctx.settings.uploads_dir)
    ctx.reporter.progress(0.05, f"Reading {params.filename or 'the file'}")
    with transaction(ctx.sessions) as session:
        language = get_book(session, ctx.book_id).language
    try:
        data = uploads.read(ctx.book_id, params.sha256, params.format)
    except NotFound:
        # An earlier attempt saved the chapters and removed the upload, then its worker died
        # before the job ended: finish as that attempt would have.
        finished = _finish_saved_import(ctx, params)
        if finished is None:
            raise
        return finished
    manuscript = parse_manuscript(f"upload.{params.format}", data, language=language)
    ctx.reporter.progress(0.2, f"Saving {len(manuscript.chapters)} chapters")
    ctx.reporter.check()
    book_id = ctx.book_id
    existing: list[str] = []

    def write(session: Session) -> list[ChapterText]:
        saved = save_manuscript(
            session, book_id, params.sha256, manuscript, max_chars=ctx.settings.max_text_chars
        )
        existing[:] = saved.existing  # a retried transaction starts the list again
        return saved.created

    def request_reindex(session: Session, _chapters: Sequence[SavedChapter]) -> str | None:
        return _reindex_job_id(session, ctx, params) if params.reindex else None

    def mirrored(n: int, total: int) -> None:
        if n % 20 == 0:
            ctx.reporter.progress(0.3 + 0.65 * n / total, "Writing chapter files")

    # The chapters, their mirrors, and one reindex of the whole book (not a job per chapter);
    # the runner sends the reindex job after this job's own commit.
    saved = save_chapters(
        ctx.sessions, ctx.settings.chapters_dir, write, IndexJobs(request_reindex), mirrored
    )
    created, reindex_job_id = saved.chapters, saved.index_job_id
    files = ChapterFiles(ctx.settings.chapters_dir)
    _restore_missing_files(ctx, files, existing)
    uploads.remove(ctx.book_id, params.sha256, params.format)
    message = (
        f"Imported {len(created)} chapters"
        if created
        else f"Already imported: the {len(existing)} chapters of this file are in the book"
    )
    ctx.reporter.progress(1.0, message)
    result: dict[str, object] = {
        "message": message,
        "split": manuscript.split,
        "chapters": len(manuscript.chapters),
        "words": manuscript.word_count,
        "created": len(created),
        "existing": len(existing),
        "chapter_ids": sorted([c.chapter_id for c in created] + existing),
        "metadata": manuscript.metadata,
        "reindex_job_id": reindex_job_id,
    }
    return JobOutput(result=result, follow_ups=saved.follow_ups)


def _finish_saved_import(ctx: JobContext, params: ImportManuscriptParams) -> JobOutput | None:
    """The result of an import whose chapters are already saved (None when they are not)."""
    assert ctx.book_id is not None
    book_id = ctx.book_id
    with transaction(ctx.sessions) as session:
        chapter_ids = saved_import_chapter_ids(session, book_id, params.sha256)
        if not chapter_ids:
            return None
        reindex_job_id = _reindex_job_id(session, ctx, params) if params.reindex else None
        follow_ups = outbox.take(session)
    _restore_missing_files(ctx, ChapterFiles(ctx.settings.chapters_dir), chapter_ids)
    if reindex_job_id is not None and not follow_ups:
        # Committed by the earlier attempt, whose worker may have died before sending it.
        with transaction(ctx.sessions) as session:
            follow_ups = [FollowUp(reindex_job_id, queue_for(get_job(session, reindex_job_id)))]
    message = f"Already imported: the {len(chapter_ids)} chapters of this file are in the book"
    ctx.reporter.progress(1.0, message)
    result: dict[str, object] = {
        "message": message,
        "chapters": len(chapter_ids),
        "created": 0,
        "existing": len(chapter_ids),
        "chapter_ids": sorted(chapter_ids),
        "reindex_job_id": reindex_job_id,
    }
    return JobOutput(result=result, follow_ups=follow_ups)


def _restore_missing_files(ctx: JobContext, files: ChapterFiles, chapter_ids: list[str]) -> None:
    """An earlier attempt of this job saved these chapters, then stopped (its worker killed)
    before it wrote all their files: write the missing ones from the catalog."""
    assert ctx.book_id is not None
    book_id = ctx.book_id
    missing = [c for c in chapter_ids if not files.chapter_path(book_id, c).exists()]
    if not missing:
        return
    with transaction(ctx.sessions) as session:
        chapters = [get_chapter(session, c, book_id=book_id) for c in missing]
        texts = [(c.id, c.title, current_text(session, c).text) for c in chapters]
    for chapter_id, title, text in texts:
        files.write_chapter(book_id, chapter_id, title, text)


def _reindex_job_id(session: Session, ctx: JobContext, params: ImportManuscriptParams) -> str:
    """Committed with the chapters; its key makes a rerun of this job get the same one back.
    A reindex of the book already pending covers it (or, asked for more, one runs after it)."""
    request = JobCreate(
        kind="reindex_book", book_id=ctx.book_id, params={"summarize": params.summarize}
    )
    job, _ = create_job(session, request, idempotency_key=f"import:{ctx.job_id}:reindex")
    return job.id
