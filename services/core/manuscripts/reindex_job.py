"""`reindex_book`: the whole book into memory, one `index_chapter` job per chapter.

The parent only plans: it lists the chapters whose current text is not indexed the current
way (all of them with `force`) and lets go of its worker while it waits; the children are
created and sent a window at a time as earlier ones end (see `services.core.jobs.fanout`), on
the bulk `index` queue, so an author's own save (the urgent index queue) never waits behind
them. Each child ends in its own transaction, which also moves the parent's progress; the last
one finishes it. A crash, a cancel or a failed chapter leaves the finished chapters marked
indexed, so running the reindex again continues where it stopped. One reindex per book is
pending at a time (coalescing, `services.core.jobs.submission`). LLM summaries are not part
of this pass: with `summarize`, separate `summarize_chapter` jobs go to the `llm` queue, and
the vector index is usable long before they are done.
"""

from __future__ import annotations

from services.core.bible.job import request_build
from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.jobs import outbox
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.fanout import plan_children
from services.core.jobs.queues import Queue
from services.core.jobs.schemas import JobCreate, ReindexBookParams
from services.core.jobs.submission import create_job


def run_reindex_book(ctx: JobContext) -> JobOutput:
    params = ReindexBookParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    ctx.reporter.progress(0.01, "Finding the chapters to index")
    with transaction(ctx.sessions) as session:
        chapters = ChapterRepository(session).list_for_book(ctx.book_id)
        to_index = [c.id for c in chapters if params.force or not c.in_memory]
        summaries = 0
        if params.summarize:
            for chapter in chapters:
                if params.force or not chapter.summary:
                    # Coalesced per chapter: a summary already pending is not asked for twice.
                    request = JobCreate(
                        kind="summarize_chapter", book_id=ctx.book_id, chapter_id=chapter.id
                    )
                    summaries += create_job(session, request, queue=Queue.LLM).created
        # The story bible follows the manuscript: one fan-out for the book (its chapters
        # already extracted are skipped), on the llm queue beside the indexing.
        bible = ctx.settings.bible_auto_extract and request_build(session, ctx.book_id)
        follow_ups = outbox.take(session)
    total = len(chapters)
    skipped = total - len(to_index)
    plan = plan_children(
        to_index,
        window=ctx.settings.fanout_window,
        force=params.force,
        total=total,
        skipped=skipped,
        summaries_queued=summaries,
        bible_queued=bool(bible),
        message=f"Indexing {len(to_index)} of {total} chapters ({skipped} already indexed)",
    )
    return JobOutput(result=plan, await_children=True, follow_ups=follow_ups)
