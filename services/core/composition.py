"""Composition: which handler runs each job kind. The only module that knows both the job
system and every domain, so the domains can submit jobs (services.core.jobs.submission)
without the job system importing them back."""

from __future__ import annotations

from services.core.bible.job import bible_totals, run_build_bible, run_extract_facts
from services.core.continuity.job import run_continuity_check
from services.core.jobs.context import Handler
from services.core.jobs.fanout import Summary
from services.core.jobs.kinds import JOB_KINDS
from services.core.manuscripts.import_job import run_import_manuscript
from services.core.manuscripts.reindex_job import run_reindex_book
from services.core.memory.index_job import run_index_chapter, run_summarize_chapter
from services.core.writing.ask import run_ask
from services.core.writing.critique import run_critique
from services.core.writing.expand import run_expand
from services.core.writing.ideate import run_ideate
from services.core.writing.metadata import run_extract_metadata
from services.core.writing.suggest import run_suggest

JOB_HANDLERS: dict[str, Handler] = {
    "suggest": run_suggest,
    "ask": run_ask,
    "index_chapter": run_index_chapter,
    "ideate": run_ideate,
    "extract_metadata": run_extract_metadata,
    "critique": run_critique,
    "expand": run_expand,
    "import_manuscript": run_import_manuscript,
    "reindex_book": run_reindex_book,
    "summarize_chapter": run_summarize_chapter,
    "extract_facts": run_extract_facts,
    "build_bible": run_build_bible,
    "continuity_check": run_continuity_check,
}
# What a finished fan-out adds to its result.
FANOUT_SUMMARIES: dict[str, Summary] = {"build_bible": bible_totals}

if set(JOB_HANDLERS) != set(JOB_KINDS):  # pragma: no cover - a kind without its handler
    raise RuntimeError(
        f"job kinds and handlers differ: {sorted(set(JOB_HANDLERS) ^ set(JOB_KINDS))}"
    )
