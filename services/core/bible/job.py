"""`extract_facts` (one chapter into the story bible) and `build_bible` (every chapter, a
resumable fan-out of `extract_facts`, see `services.core.jobs.fanout`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.core.bible.extraction import EXTRACTOR_VERSION, extract_chapter
from services.core.bible.repository import BibleRepository
from services.core.bible.service import is_extracted, known_entities, store_extraction
from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.jobs import outbox
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.fanout import ChildKind, plan_children
from services.core.jobs.models import Job
from services.core.jobs.outbox import FollowUp
from services.core.jobs.queues import Queue
from services.core.jobs.schemas import BuildBibleParams, ExtractFactsParams, JobCreate
from services.core.jobs.submission import create_job
from services.core.llm.profile import resolve_profile

EXTRACTION = ChildKind(
    kind="extract_facts",
    queue=Queue.LLM,
    done="Extracted",
    failed="extracted",
    result_key="extracted",
)


def run_extract_facts(ctx: JobContext) -> JobOutput:
    params = ExtractFactsParams.model_validate(ctx.params)
    assert ctx.chapter_id is not None
    ctx.reporter.progress(0.02, "Reading the chapter")
    with transaction(ctx.sessions) as session:
        chapter = get_chapter(session, ctx.chapter_id, book_id=ctx.book_id)
        language = get_book(session, chapter.book_id).language
        revision = current_text(session, chapter)
        text, number, content_hash = revision.text, revision.number, chapter.content_hash
        if not params.force and is_extracted(session, chapter, use_llm=params.use_llm):
            ctx.reporter.progress(1.0, "Unchanged since the last extraction: nothing to do")
            return JobOutput(
                result={
                    "chapter_id": chapter.id,
                    "skipped": True,
                    "entities": 0,
                    "facts": 0,
                    "dropped_quotes": 0,
                }
            )
        known = known_entities(session, chapter.book_id)
    llm = ctx.llm if params.use_llm else None
    profile = resolve_profile(ctx.settings, ctx.llm.server_info()) if llm is not None else None
    ctx.reporter.progress(0.05, "Finding names")

    def on_window(done: int, total: int) -> None:
        ctx.reporter.progress(0.05 + 0.85 * done / total, f"Read {done} of {total} parts")

    extraction = extract_chapter(
        text,
        language=language,
        llm=llm,
        known=known,
        profile=profile,
        on_window=on_window,
        check=ctx.reporter.check,
    )
    ctx.reporter.progress(0.92, "Saving the entities and facts")
    with transaction(ctx.sessions) as session:
        chapter = get_chapter(session, ctx.chapter_id, book_id=ctx.book_id)
        stored = store_extraction(
            session,
            chapter=chapter,
            revision=number,
            content_hash=content_hash,
            text=text,
            extraction=extraction,
        )
    return JobOutput(
        result={
            "chapter_id": ctx.chapter_id,
            "skipped": False,
            "entities": stored.entities,
            "facts": stored.facts,
            "dropped_quotes": extraction.dropped_quotes,
            "ungrounded": extraction.ungrounded,
            "revision": number,
            "used_llm": extraction.used_llm,
            "windows": extraction.windows,
            "failed_windows": extraction.failed_windows,
            "extractor_version": EXTRACTOR_VERSION,
        }
    )


def run_build_bible(ctx: JobContext) -> JobOutput:
    params = BuildBibleParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    ctx.reporter.progress(0.01, "Finding the chapters to extract")
    with transaction(ctx.sessions) as session:
        get_book(session, ctx.book_id)
        chapters = ChapterRepository(session).list_for_book(ctx.book_id)
        todo = [
            c.id
            for c in chapters
            if params.force or not is_extracted(session, c, use_llm=params.use_llm)
        ]
    total = len(chapters)
    skipped = total - len(todo)
    plan = plan_children(
        todo,
        window=ctx.settings.fanout_window,
        force=params.force,
        child=EXTRACTION,
        child_params={"use_llm": params.use_llm},
        total=total,
        skipped=skipped,
        message=f"Extracting {len(todo)} of {total} chapters ({skipped} already extracted)",
    )
    return JobOutput(result=plan, await_children=True)


def bible_totals(session: Session, parent: Job) -> dict[str, Any]:
    """The book's entities and facts once a build ends (the `build_bible` result)."""
    assert parent.book_id is not None
    entities, facts = BibleRepository(session).totals(parent.book_id)
    return {"entities": entities, "facts": facts}


def request_extraction(session: Session, book_id: str, chapter_id: str) -> list[FollowUp]:
    """After a chapter's indexing: its extraction, coalesced with one already pending. The
    jobs to send once the caller's transaction commits."""
    create_job(session, JobCreate(kind="extract_facts", book_id=book_id, chapter_id=chapter_id))
    return outbox.take(session)


def request_build(session: Session, book_id: str) -> bool:
    """After a whole-book reindex (an import, a restore): the book's bible, one fan-out
    rather than a job per chapter. Whether a job was created (not one already pending)."""
    return create_job(session, JobCreate(kind="build_bible", book_id=book_id)).created
