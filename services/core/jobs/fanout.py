"""Fan-out jobs: a parent (reindex_book) waits, without holding a worker, for the per-chapter
jobs it created; whichever child ends last finishes the parent.

Why not a Celery chord or a parent that blocks on its children: the `index` queue runs in a
prefork worker with one process, so a parent blocking on children of the same queue would
deadlock it, and a chord needs a result backend the catalog already is. Here the parent writes
its plan (how many chapters, how many were already indexed) and lets go of its worker; every
child, in the same transaction that records its own end, locks the parent row, counts its
siblings and updates the parent's progress, or finishes it when none is left. The lock orders
children that end at the same moment, so exactly one of them finishes the parent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.core.jobs.repository import JobRepository


@dataclass(frozen=True)
class ParentUpdate:
    parent_id: str
    progress: float
    message: str
    finished: bool


def settle_parent(session: Session, parent_id: str) -> ParentUpdate | None:
    """Bring the parent's progress up to date with its children; finish it after the last one.

    None when the parent already ended (e.g. cancelled) or is still creating its children
    (it settles itself once it starts waiting).
    """
    repo = JobRepository(session)
    parent = repo.lock_running(parent_id)
    if parent is None or parent.worker_id is not None:
        return None
    plan = dict(parent.result or {})
    total = max(1, int(plan.get("total", 0)))
    skipped = int(plan.get("skipped", 0))
    counts = repo.child_counts(parent_id)
    done, failed = counts.get("succeeded", 0), counts.get("failed", 0)
    cancelled = counts.get("cancelled", 0)
    pending = counts.get("queued", 0) + counts.get("running", 0)
    progress = min(1.0, (skipped + done + failed + cancelled) / total)
    message = f"Indexed {skipped + done} of {total} chapters"
    if failed:
        message += f"; {failed} failed"
    repo.set_progress(parent_id, progress, message)
    if pending:
        return ParentUpdate(parent_id, progress, message, False)
    result = {**plan, "indexed": done, "failed": failed, "cancelled": cancelled}
    error = None
    if failed:
        failures = repo.failed_children(parent_id)
        result["failures"] = [
            {"chapter_id": j.chapter_id, "job_id": j.id, "error": j.error} for j in failures
        ]
        status = "failed"
        error = (
            f"{failed} of {total} chapters could not be indexed (the other "
            f"{skipped + done} are): "
            + "; ".join(f"{j.chapter_id}: {j.error}" for j in failures[:5])
            + ". Run the reindex again to retry them; indexed chapters are skipped."
        )
    elif cancelled:
        status, message = "cancelled", f"{message}; {cancelled} cancelled"
    else:
        status, message = "succeeded", f"Indexed all {total} chapters"
    repo.finish(
        parent_id,
        status=status,
        message=message,
        result=result,
        error=error,
        from_statuses=("running",),
    )
    return ParentUpdate(parent_id, 1.0 if status == "succeeded" else progress, message, True)
