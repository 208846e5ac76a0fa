"""`index_chapter`: a chapter's passages into memory, then (optionally) its LLM summary."""

from __future__ import annotations

from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import IndexChapterParams
from services.core.llm.client import LLMError
from services.core.memory.indexer import index_chapter, summary_id
from services.core.memory.store import MemoryDocument
from services.core.writing.summarize import summarize_chapter


def run_index_chapter(ctx: JobContext) -> JobOutput:
    params = IndexChapterParams.model_validate(ctx.params)
    assert ctx.chapter_id is not None
    ctx.reporter.progress(0.02, "Reading the chapter")
    outcome = index_chapter(
        ctx.sessions,
        ctx.memory,
        ctx.chapter_id,
        force=params.force,
        on_progress=lambda f, m: ctx.reporter.progress(f, m),
    )
    result: dict[str, object] = {**outcome.as_dict(), "summary": None}
    if outcome.skipped:
        ctx.reporter.progress(1.0, "Unchanged since the last indexing: nothing to do")
        return JobOutput(result=result)
    ctx.reporter.progress(0.5, f"Indexed {outcome.chunks} passages")
    if params.summarize:
        result["summary"] = _summarize(ctx, outcome.content_hash)
    return JobOutput(result=result)


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
                },
            )
        ]
    )
    ctx.reporter.progress(0.98, "Summary stored")
    return summary
