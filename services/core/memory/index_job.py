"""`index_chapter`: a chapter's passages into memory, then (optionally) its LLM summary."""

from __future__ import annotations

import logging
import time

from services.core.bible.job import request_extraction
from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.errors import DomainError
from services.core.jobs.context import JobContext, JobOutput, JobStopped
from services.core.jobs.outbox import FollowUp
from services.core.jobs.repository import JobRepository
from services.core.jobs.schemas import IndexChapterParams
from services.core.llm.client import LLMError
from services.core.memory.indexer import IndexOutcome, index_chapter, summary_id
from services.core.memory.store import MemoryDocument, MemoryUnavailable
from services.core.writing.summarize import summarize_chapter

log = logging.getLogger(__name__)
INDEX_ATTEMPTS = 3


def run_index_chapter(ctx: JobContext) -> JobOutput:
    params = IndexChapterParams.model_validate(ctx.params)
    assert ctx.chapter_id is not None
    ctx.reporter.progress(0.02, "Reading the chapter")
    outcome = _index_with_retries(ctx, params.force)
    result: dict[str, object] = {**outcome.as_dict(), "summary": None}
    if outcome.skipped:
        ctx.reporter.progress(1.0, "Unchanged since the last indexing: nothing to do")
        return JobOutput(result=result)
    ctx.reporter.progress(0.5, f"Indexed {outcome.chunks} passages")
    if params.summarize:
        result["summary"] = _summarize(ctx, outcome.content_hash)
    return JobOutput(result=result, follow_ups=_bible_follow_up(ctx))


def _bible_follow_up(ctx: JobContext) -> list[FollowUp]:
    """The chapter's story-bible extraction, after an author's save (BIBLE_AUTO_EXTRACT). A
    whole-book reindex asks for one `build_bible` instead of a job per chapter."""
    assert ctx.chapter_id is not None and ctx.book_id is not None
    if not ctx.settings.bible_auto_extract:
        return []
    with transaction(ctx.sessions) as session:
        job = JobRepository(session).get(ctx.job_id)
        if job is not None and job.parent_id is not None:
            return []
        return request_extraction(session, ctx.book_id, ctx.chapter_id)


def _index_with_retries(ctx: JobContext, force: bool) -> IndexOutcome:
    """A passing hiccup of the vector store (a timeout, a restart) is retried here, so one
    chapter of a whole-book reindex does not fail for it; a domain error is final at once."""
    assert ctx.chapter_id is not None
    for attempt in range(1, INDEX_ATTEMPTS + 1):
        try:
            return index_chapter(
                ctx.sessions,
                ctx.memory,
                ctx.chapter_id,
                force=force,
                on_progress=lambda f, m: ctx.reporter.progress(f, m),
            )
        except MemoryUnavailable as exc:  # an outage: retried like any passing hiccup
            if attempt == INDEX_ATTEMPTS:
                raise
            log.warning("indexing chapter %s: %s; retrying", ctx.chapter_id, exc)
            ctx.reporter.progress(0.05, f"Retrying after an error: {exc}"[:300])
            time.sleep(0.5 * 2**attempt)
        except (DomainError, JobStopped):
            raise
        except Exception as exc:
            if attempt == INDEX_ATTEMPTS:
                raise
            log.warning("indexing chapter %s failed (%s); retrying", ctx.chapter_id, exc)
            ctx.reporter.progress(0.05, f"Retrying after an error: {exc}"[:300])
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _summarize(ctx: JobContext, content_hash: str) -> str | None:
    assert ctx.chapter_id is not None
    ctx.reporter.progress(0.6, "Writing the chapter summary")
    with transaction(ctx.sessions) as session:
        chapter = get_chapter(session, ctx.chapter_id)
        language = get_book(session, chapter.book_id).language
        title, text = chapter.title, current_text(session, chapter).text
        book_id, position, revision = chapter.book_id, chapter.position, chapter.current_revision
    try:
        completion = summarize_chapter(
            ctx.llm,
            language=language,
            title=title,
            text=text,
            max_chars=ctx.settings.llm_prompt_chars,
        )
    except LLMError:
        # The vectors are in; a summary can come with the next indexing.
        ctx.reporter.progress(0.95, "Summary skipped: the LLM is unavailable")
        return None
    summary = completion.text.strip()
    if not summary:
        return None
    with transaction(ctx.sessions) as session:
        if not ChapterRepository(session).set_summary(ctx.chapter_id, content_hash, summary):
            return None  # the chapter changed meanwhile; its next indexing summarises it
    ctx.memory.upsert(
        [
            MemoryDocument(
                summary_id(book_id, ctx.chapter_id),
                summary,
                {
                    "book_id": book_id,
                    "chapter_id": ctx.chapter_id,
                    "title": title,
                    "position": position,
                    "kind": "summary",
                    "revision": revision,
                    "content_hash": content_hash,
                    "language": language,
                },
            )
        ]
    )
    ctx.reporter.progress(0.98, "Summary stored")
    return summary


def run_summarize_chapter(ctx: JobContext) -> JobOutput:
    """The LLM summary alone: the optional second pass of a book's reindex."""
    assert ctx.chapter_id is not None
    with transaction(ctx.sessions) as session:
        content_hash = get_chapter(session, ctx.chapter_id).content_hash
    return JobOutput(
        result={"chapter_id": ctx.chapter_id, "summary": _summarize(ctx, content_hash)}
    )
