"""`import_manuscript`: an uploaded book file becomes chapters, then the book is reindexed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core.books.service import get_book
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.files import ChapterFiles
from services.core.jobs import outbox
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import ImportManuscriptParams, JobCreate
from services.core.jobs.submission import create_job
from services.core.manuscripts.parsing import parse_manuscript
from services.core.manuscripts.service import ManuscriptUploads, save_manuscript


def run_import_manuscript(ctx: JobContext) -> JobOutput:
    params = ImportManuscriptParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    uploads = ManuscriptUploads(ctx.settings.uploads_dir)
    ctx.reporter.progress(0.05, f"Reading {params.filename or 'the file'}")
    with transaction(ctx.sessions) as session:
        language = get_book(session, ctx.book_id).language
    data = uploads.read(ctx.book_id, params.sha256, params.format)
    manuscript = parse_manuscript(f"upload.{params.format}", data, language=language)
    ctx.reporter.progress(0.2, f"Saving {len(manuscript.chapters)} chapters")
    ctx.reporter.check()
    with transaction(ctx.sessions) as session:
        saved = save_manuscript(
            session,
            ctx.book_id,
            params.sha256,
            manuscript,
            max_chars=ctx.settings.max_text_chars,
        )
        reindex_job_id = _reindex_job_id(session, ctx, params) if params.reindex else None
        follow_ups = outbox.take(session)
    files = ChapterFiles(ctx.settings.chapters_dir)
    for n, (chapter_id, title, text) in enumerate(saved.created, start=1):
        # The catalog is the truth; mirrors follow the commit, as for an author's saves.
        files.write_chapter(ctx.book_id, chapter_id, title, text)
        if n % 20 == 0:
            ctx.reporter.progress(0.3 + 0.65 * n / len(saved.created), "Writing chapter files")
    _restore_missing_files(ctx, files, saved.existing)
    uploads.remove(ctx.book_id, params.sha256, params.format)
    message = (
        f"Imported {len(saved.created)} chapters"
        if saved.created
        else f"Already imported: the {len(saved.existing)} chapters of this file are in the book"
    )
    ctx.reporter.progress(1.0, message)
    result: dict[str, object] = {
        "message": message,
        "split": manuscript.split,
        "chapters": len(manuscript.chapters),
        "words": manuscript.word_count,
        "created": len(saved.created),
        "existing": len(saved.existing),
        "chapter_ids": saved.chapter_ids,
        "metadata": manuscript.metadata,
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
