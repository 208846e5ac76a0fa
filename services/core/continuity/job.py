"""`continuity_check`: the audit of a book (or some of its chapters). Deterministic from the
chapters' text and the bible's names; incremental: without `chapter_ids` or `force` only the
chapters changed since the last audit are in scope (pairs touching them)."""

from __future__ import annotations

from services.core.continuity.schemas import FindingOut
from services.core.continuity.service import (
    candidates_for,
    finding_out,
    read_book,
    scope_of,
    store_findings,
)
from services.core.db import transaction
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import ContinuityCheckParams


def run_continuity_check(ctx: JobContext) -> JobOutput:
    params = ContinuityCheckParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    ctx.reporter.progress(0.02, "Reading the chapters")
    with transaction(ctx.sessions) as session:
        book = read_book(session, ctx.book_id)
        scope = scope_of(session, ctx.book_id, book, params.chapter_ids, params.force)
    total = len(book.chapters)
    ctx.reporter.progress(
        0.1, f"Finding facts in {total} chapters ({len(scope)} changed since the last audit)"
    )
    candidates = candidates_for(book, ctx.reporter.check)
    in_scope = [c for c in candidates if c.chapter_ids & scope]
    ctx.reporter.progress(0.8, f"{len(in_scope)} candidate conflicts; saving the findings")
    ctx.reporter.check()
    with transaction(ctx.sessions) as session:
        rows = store_findings(session, ctx.book_id, book, candidates, scope)
        findings: list[FindingOut] = [finding_out(r) for r in rows if r.status == "open"]
    ctx.reporter.progress(1.0, f"{len(findings)} open findings")
    return JobOutput(
        result={
            "findings": [f.model_dump() for f in findings],
            "candidates": len(in_scope),
            "judged": 0,
            "chapters": len(scope),
        }
    )
