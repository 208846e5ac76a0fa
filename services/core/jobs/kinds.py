"""The job kinds the system runs: their parameters, what they need, their queue and handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import (
    AskParams,
    CritiqueParams,
    ExpandParams,
    ExtractMetadataParams,
    IdeateParams,
    ImportManuscriptParams,
    IndexChapterParams,
    ReindexBookParams,
    SuggestParams,
    SummarizeChapterParams,
)
from services.core.manuscripts.import_job import run_import_manuscript
from services.core.manuscripts.reindex_job import run_reindex_book
from services.core.memory.index_job import run_index_chapter, run_summarize_chapter
from services.core.writing.ask import run_ask
from services.core.writing.critique import run_critique
from services.core.writing.expand import run_expand
from services.core.writing.ideate import run_ideate
from services.core.writing.metadata import run_extract_metadata
from services.core.writing.suggest import run_suggest

Handler = Callable[[JobContext], JobOutput]


@dataclass(frozen=True)
class JobKind:
    name: str
    params: type[BaseModel]
    handler: Handler
    queue: str  # "llm" for interactive generation, "index" for bulk CPU work
    needs_book: bool
    needs_chapter: bool
    # A param that stands in for the chapter when given (`extract_metadata`'s `text`).
    chapter_or_param: str | None = None


JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("suggest", SuggestParams, run_suggest, "llm", needs_book=True, needs_chapter=True),
        JobKind("ask", AskParams, run_ask, "llm", needs_book=True, needs_chapter=False),
        JobKind(
            "index_chapter",
            IndexChapterParams,
            run_index_chapter,
            "index",
            needs_book=True,
            needs_chapter=True,
        ),
        JobKind("ideate", IdeateParams, run_ideate, "llm", needs_book=True, needs_chapter=False),
        JobKind(
            "extract_metadata",
            ExtractMetadataParams,
            run_extract_metadata,
            "llm",
            needs_book=True,
            needs_chapter=True,
            chapter_or_param="text",
        ),
        JobKind(
            "critique", CritiqueParams, run_critique, "llm", needs_book=True, needs_chapter=True
        ),
        JobKind("expand", ExpandParams, run_expand, "llm", needs_book=True, needs_chapter=False),
        # Whole manuscripts: the import parses and saves (quick, CPU), the reindex fans out one
        # index_chapter job per chapter and waits for them without holding the worker.
        JobKind(
            "import_manuscript",
            ImportManuscriptParams,
            run_import_manuscript,
            "index",
            needs_book=True,
            needs_chapter=False,
        ),
        JobKind(
            "reindex_book",
            ReindexBookParams,
            run_reindex_book,
            "index",
            needs_book=True,
            needs_chapter=False,
        ),
        JobKind(
            "summarize_chapter",
            SummarizeChapterParams,
            run_summarize_chapter,
            "llm",
            needs_book=True,
            needs_chapter=True,
        ),
    )
}


def valid_kinds() -> list[str]:
    return sorted(JOB_KINDS)
