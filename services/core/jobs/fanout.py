"""Fan-out jobs: a parent (reindex_book) waits, without holding a worker, for the per-chapter
jobs it creates a window at a time; whichever child ends last finishes the parent.

Why not a Celery chord or a parent that blocks on its children: the `index` queue runs in a
prefork worker with one process, so a parent blocking on children of the same queue would
deadlock it, and a chord needs a result backend the catalog already is. Here the parent writes
its plan (the chapters to index, how many were already indexed) and lets go of its worker;
every child, in the same transaction that records its own end, locks the parent row, counts
its siblings, creates the next children of the plan up to the window, and updates the
parent's progress, or finishes it when none is left. The lock orders children that end at the
same moment, so exactly one of them finishes the parent.

Why a window: a book of 500 chapters would otherwise put 500 messages in the broker for one
request — a backlog an author's save waited behind, a cancel had to chase, and a progress bar
that said little. With a window of a few times the worker count the workers stay busy, the
broker holds at most the window for one reindex, and a cancel stops the rest at once (they
were never created).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.core.errors import NotFound
from services.core.jobs.models import Job
from services.core.jobs.queues import Queue
from services.core.jobs.repository import JobRepository
from services.core.jobs.schemas import JobCreate
from services.core.jobs.submission import create_job

DEFAULT_WINDOW = 8
# What a finished parent of a kind adds to its result (e.g. the bible's totals), registered in
# `services.core.composition`: the job system does not import the domains.
Summary = Callable[[Session, Job], dict[str, Any]]


@dataclass(frozen=True)
class ParentUpdate:
    parent_id: str
    progress: float
    message: str
    finished: bool


@dataclass(frozen=True)
class ChildKind:
    """What a fan-out creates per chapter, where it sends it, and the words of its progress."""

    kind: str = "index_chapter"
    queue: Queue = Queue.INDEX
    done: str = "Indexed"  # "Indexed 3 of 10 chapters"
    failed: str = "indexed"  # "2 of 10 chapters could not be indexed"
    result_key: str = "indexed"  # the count of children done, in the final result


INDEXING = ChildKind()


def plan_children(
    chapter_ids: list[str],
    *,
    window: int,
    force: bool,
    child: ChildKind = INDEXING,
    child_params: dict[str, Any] | None = None,
    **facts: Any,
) -> dict[str, Any]:
    """The plan a fan-out parent stores in its result while it waits (see `settle_parent`)."""
    return {
        **facts,
        "queued": len(chapter_ids),
        "force": force,
        "window": max(1, window),
        "remaining": list(chapter_ids),
        "elsewhere": 0,
        "child": {
            "kind": child.kind,
            "queue": child.queue.value,
            "done": child.done,
            "failed": child.failed,
            "result_key": child.result_key,
            "params": child_params if child_params is not None else {"summarize": False},
        },
    }


def _child(plan: Mapping[str, Any]) -> tuple[ChildKind, dict[str, Any]]:
    raw = plan.get("child")
    if not isinstance(raw, dict):  # a plan stored before fan-outs named their child
        return INDEXING, {"force": bool(plan.get("force")), "summarize": False}
    child = ChildKind(
        kind=str(raw["kind"]),
        queue=Queue(raw["queue"]),
        done=str(raw["done"]),
        failed=str(raw["failed"]),
        result_key=str(raw["result_key"]),
    )
    return child, {**dict(raw.get("params") or {}), "force": bool(plan.get("force"))}


def _refill(session: Session, parent: Job, plan: dict[str, Any], active: int) -> int:
    """Create the next children, up to the window; returns how many are active now. A chapter
    whose indexing another job already has pending (an author's save, a vectorize) is left to
    that job: coalescing allows one per chapter."""
    remaining: list[str] = list(plan.get("remaining") or [])
    window = int(plan.get("window") or DEFAULT_WINDOW)
    child, params = _child(plan)
    while remaining and active < window:
        chapter_id = remaining.pop(0)
        request = JobCreate(
            kind=child.kind, book_id=parent.book_id, chapter_id=chapter_id, params=params
        )
        try:
            submitted = create_job(
                session, request, queue=child.queue, parent_id=parent.id, running_covers=True
            )
        except NotFound:
            plan["gone"] = int(plan.get("gone", 0)) + 1  # deleted since the plan was made
            continue
        if submitted.job.parent_id == parent.id and submitted.created:
            active += 1
        else:
            plan["elsewhere"] = int(plan.get("elsewhere", 0)) + 1
    plan["remaining"] = remaining
    return active


def settle_parent(
    session: Session, parent_id: str, summaries: Mapping[str, Summary] | None = None
) -> ParentUpdate | None:
    """Bring the parent's progress up to date with its children, send the next window of
    children (noted in the outbox), and finish the parent after the last one.

    None when the parent already ended (e.g. cancelled) or is still planning (it settles
    itself once it starts waiting).
    """
    repo = JobRepository(session)
    parent = repo.lock_running(parent_id)
    if parent is None or parent.worker_id is not None:
        return None
    plan = dict(parent.result or {})
    counts = repo.child_counts(parent_id)
    active = counts.get("queued", 0) + counts.get("running", 0)
    active = _refill(session, parent, plan, active)
    if active != counts.get("queued", 0) + counts.get("running", 0):
        counts = repo.child_counts(parent_id)
    total = max(1, int(plan.get("total", 0)))
    skipped = int(plan.get("skipped", 0))
    # Chapters left to a job that was already pending, or deleted meanwhile, count as handled.
    handled_elsewhere = int(plan.get("elsewhere", 0)) + int(plan.get("gone", 0))
    done, failed = counts.get("succeeded", 0), counts.get("failed", 0)
    cancelled = counts.get("cancelled", 0)
    pending = active + len(plan.get("remaining") or [])
    progress = min(1.0, (skipped + handled_elsewhere + done + failed + cancelled) / total)
    child, _ = _child(plan)
    message = f"{child.done} {skipped + done} of {total} chapters"
    if failed:
        message += f"; {failed} failed"
    if handled_elsewhere:
        message += f" ({handled_elsewhere} by jobs already queued)"
    if pending:
        repo.set_progress(parent_id, progress, message, result=plan)
        return ParentUpdate(parent_id, progress, message, False)
    plan.pop("remaining", None)
    result = {**plan, child.result_key: done, "failed": failed, "cancelled": cancelled}
    error = None
    if failed:
        failures = repo.failed_children(parent_id)
        result["failures"] = [
            {"chapter_id": j.chapter_id, "job_id": j.id, "error": j.error} for j in failures
        ]
        status = "failed"
        error = (
            f"{failed} of {total} chapters could not be {child.failed} (the other "
            f"{skipped + done} are): "
            + "; ".join(f"{j.chapter_id}: {j.error}" for j in failures[:5])
            + f". Run the job again to retry them; {child.failed} chapters are skipped."
        )
    elif cancelled:
        status, message = "cancelled", f"{message}; {cancelled} cancelled"
    else:
        status, message = "succeeded", f"{child.done} all {total} chapters"
    summary = (summaries or {}).get(parent.kind)
    if summary is not None:
        result.update(summary(session, parent))
    repo.set_progress(parent_id, progress, message)
    repo.finish(
        parent_id,
        status=status,
        message=message,
        result=result,
        error=error,
        from_statuses=("running",),
    )
    return ParentUpdate(parent_id, 1.0 if status == "succeeded" else progress, message, True)
