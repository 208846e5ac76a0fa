"""`reindex_book`: the whole book into memory, one `index_chapter` job per chapter.

The parent only plans: it skips chapters whose content hash is already indexed (unless
`force`), creates one child job per remaining chapter on the `index` queue, sends them, and lets
go of its worker while it waits (see `services.core.jobs.fanout` for why it never blocks). Each
child ends in its own transaction, which also moves the parent's progress; the last one
finishes it. A crash, a cancel or a failed chapter leaves the finished chapters marked indexed,
so running the reindex again continues where it stopped. LLM summaries are not part of this
pass: with `summarize`, separate `summarize_chapter` jobs go to the `llm` queue, and the vector
index is usable long before they are done.
"""

from __future__ import annotations

from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.errors import ServiceUnavailable
from services.core.ids import new_uuid
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.models import Job
from services.core.jobs.repository import JobRepository
from services.core.jobs.schemas import ReindexBookParams


def run_reindex_book(ctx: JobContext) -> JobOutput:
    # Deferred: services.core.jobs.service imports the kind registry, which imports this module.
    from services.core.jobs.service import cancel_job

    params = ReindexBookParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    if ctx.dispatch is None:
        raise RuntimeError("reindex_book needs a worker that can send jobs")
    ctx.reporter.progress(0.01, "Finding the chapters to index")
    to_index: list[str] = []
    summaries: list[str] = []
    with transaction(ctx.sessions) as session:
        repo = JobRepository(session)
        for other in repo.active_of_kind(ctx.book_id, "reindex_book"):
            if other.id != ctx.job_id:  # one reindex per book at a time: the newest wins
                cancel_job(session, other.id, "Replaced by a newer reindex of this book")
        chapters = ChapterRepository(session).list_for_book(ctx.book_id)
        # Children of an earlier attempt of this same job (its worker died while planning).
        earlier = {child.chapter_id: child for child in repo.children(ctx.job_id)}
        skipped = 0
        for chapter in chapters:
            child = earlier.get(chapter.id)
            if child is not None:
                if child.status == "queued":
                    to_index.append(child.id)
                continue
            if not params.force and chapter.in_memory:
                skipped += 1
                continue
            to_index.append(_child(repo, ctx, chapter.id, "index_chapter", params.force).id)
        if params.summarize:
            for chapter in chapters:
                if params.force or not chapter.summary:
                    summaries.append(_child(repo, ctx, chapter.id, "summarize_chapter").id)
    total = len(chapters)
    _send(ctx, to_index, "index")
    _send(ctx, summaries, "llm")
    result: dict[str, object] = {
        "total": total,
        "skipped": skipped,
        "queued": len(to_index),
        "force": params.force,
        "summaries_queued": len(summaries),
        "message": f"Indexing {len(to_index)} of {total} chapters ({skipped} already indexed)",
    }
    return JobOutput(result=result, await_children=True)


def _child(
    repo: JobRepository, ctx: JobContext, chapter_id: str, kind: str, force: bool = False
) -> Job:
    params: dict[str, object] = (
        {"force": force, "summarize": False} if kind == "index_chapter" else {}
    )
    return repo.add(
        Job(
            id=new_uuid(),
            kind=kind,
            status="queued",
            progress=0.0,
            message="Queued",
            book_id=ctx.book_id,
            chapter_id=chapter_id,
            params=params,
            # Summaries are a separate pass: they do not hold the reindex back.
            parent_id=ctx.job_id if kind == "index_chapter" else None,
        )
    )


def _send(ctx: JobContext, job_ids: list[str], queue: str) -> None:
    assert ctx.dispatch is not None
    try:
        for job_id in job_ids:
            ctx.dispatch(job_id, queue)
    except Exception as exc:
        with transaction(ctx.sessions) as session:
            JobRepository(session).cancel_children(ctx.job_id, "Could not be queued")
        raise ServiceUnavailable(f"the job broker is unavailable: {exc}") from exc
