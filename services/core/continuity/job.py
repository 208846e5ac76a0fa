"""`continuity_check`: the audit of a book (or some of its chapters). Deterministic from the
chapters' text and the bible's names; incremental: without `chapter_ids` or `force` only the
chapters changed since the last audit are in scope (pairs touching them)."""

from __future__ import annotations

from services.core.continuity.judge import judge
from services.core.continuity.schemas import FindingOut
from services.core.continuity.service import (
    candidates_for,
    finding_out,
    known_signatures,
    read_book,
    scope_of,
    signature,
    store_findings,
)
from services.core.db import transaction
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import ContinuityCheckParams
from services.core.llm.profile import resolve_profile


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
    with transaction(ctx.sessions) as session:
        known = known_signatures(session, ctx.book_id)
    # Deterministic first: a candidate already stored keeps its verdict (and mark); the LLM
    # judges only new ones, and in "uncertain" mode only those the rules are unsure of.
    mode = params.judge or ctx.settings.continuity_judge
    to_judge = [
        c
        for c in in_scope
        if signature(c) not in known
        and (mode == "all" or (mode == "uncertain" and not c.confident))
    ]
    rejected: set[int] = set()
    if to_judge:
        profile = resolve_profile(ctx.settings, ctx.llm.server_info())
        for n, candidate in enumerate(to_judge):
            ctx.reporter.check()
            ctx.reporter.progress(
                0.2 + 0.6 * n / len(to_judge), f"Judging candidate {n + 1} of {len(to_judge)}"
            )
            verdict = judge(ctx.llm, book.language, candidate, profile)
            candidate.judged = True
            if verdict is not None and not verdict.contradiction:
                rejected.add(id(candidate))
    kept = [c for c in candidates if id(c) not in rejected]
    ctx.reporter.progress(0.85, f"{len(in_scope) - len(rejected)} conflicts; saving the findings")
    ctx.reporter.check()
    with transaction(ctx.sessions) as session:
        rows = store_findings(session, ctx.book_id, book, kept, scope)
        findings: list[FindingOut] = [finding_out(r) for r in rows if r.status == "open"]
    ctx.reporter.progress(1.0, f"{len(findings)} open findings")
    return JobOutput(
        result={
            "findings": [f.model_dump() for f in findings],
            "candidates": len(in_scope),
            "judged": len(to_judge),
            "chapters": len(scope),
        }
    )
