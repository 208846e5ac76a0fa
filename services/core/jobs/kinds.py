"""The job kinds the system runs: their parameters, what they need, their queue and how
repeated requests for the same work coalesce. Their handlers are registered apart, in
`services.core.composition`, so this module (and `jobs.service`, which reads it) imports no
domain code and the domains can use the job service without an import cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from services.core.jobs.queues import Queue
from services.core.jobs.schemas import (
    AskParams,
    BuildBibleParams,
    ContinuityCheckParams,
    CritiqueParams,
    ExpandParams,
    ExtractFactsParams,
    ExtractMetadataParams,
    IdeateParams,
    ImportManuscriptParams,
    IndexChapterParams,
    ReindexBookParams,
    SuggestParams,
    SummarizeChapterParams,
)

# What one pending job of a coalescing kind covers: one chapter or one book.
Scope = Literal["chapter", "book"]


@dataclass(frozen=True)
class JobKind:
    name: str
    params: type[BaseModel]
    queue: Queue  # where a request for it goes unless the caller says otherwise
    needs_book: bool
    needs_chapter: bool
    # Coalescing: at most one pending (queued or running) job of this kind per scope, enforced
    # by a unique key in the catalog; a request the pending job covers is answered with it.
    coalesce: Scope | None = None
    # Whether a running job covers a new request with the same or weaker params. A reindex
    # plans at its start, and chapters saved later queue their own indexing, so yes; a running
    # chapter job may have read the text before the save that asks again, so no: the request
    # queues one job to run after it.
    running_covers: bool = False
    # A param that stands in for the chapter when given (`extract_metadata`'s `text`).
    chapter_or_param: str | None = None

    def pending_key(self, book_id: str | None, chapter_id: str | None) -> str | None:
        if self.coalesce == "chapter":
            return f"{self.name}:{chapter_id}"
        if self.coalesce == "book":
            return f"{self.name}:{book_id}"
        return None


JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("suggest", SuggestParams, Queue.LLM, needs_book=True, needs_chapter=True),
        JobKind("ask", AskParams, Queue.LLM, needs_book=True, needs_chapter=False),
        # Asked for one chapter (a save, or POST /jobs): the author waits for it. The chapters
        # of a whole-book reindex go to Queue.INDEX instead.
        JobKind(
            "index_chapter",
            IndexChapterParams,
            Queue.INDEX_URGENT,
            needs_book=True,
            needs_chapter=True,
            coalesce="chapter",
        ),
        JobKind("ideate", IdeateParams, Queue.LLM, needs_book=True, needs_chapter=False),
        JobKind(
            "extract_metadata",
            ExtractMetadataParams,
            Queue.LLM,
            needs_book=True,
            needs_chapter=True,
            chapter_or_param="text",
        ),
        JobKind("critique", CritiqueParams, Queue.LLM, needs_book=True, needs_chapter=True),
        JobKind("expand", ExpandParams, Queue.LLM, needs_book=True, needs_chapter=False),
        # Whole manuscripts: the import parses and saves (quick, CPU), the reindex fans out one
        # index_chapter job per chapter and waits for them without holding the worker.
        JobKind(
            "import_manuscript",
            ImportManuscriptParams,
            Queue.INDEX,
            needs_book=True,
            needs_chapter=False,
        ),
        JobKind(
            "reindex_book",
            ReindexBookParams,
            Queue.INDEX,
            needs_book=True,
            needs_chapter=False,
            coalesce="book",
            running_covers=True,
        ),
        JobKind(
            "summarize_chapter",
            SummarizeChapterParams,
            Queue.LLM,
            needs_book=True,
            needs_chapter=True,
            coalesce="chapter",
            running_covers=True,
        ),
        # The story bible: one chapter's entities and facts (after each indexing, or a
        # request), and the whole book as a fan-out of those, both on the LLM's queue. A
        # running extraction may have read the text before the save that asks again: no
        # running_covers for the chapter job.
        JobKind(
            "extract_facts",
            ExtractFactsParams,
            Queue.LLM,
            needs_book=True,
            needs_chapter=True,
            coalesce="chapter",
        ),
        JobKind(
            "build_bible",
            BuildBibleParams,
            Queue.LLM,
            needs_book=True,
            needs_chapter=False,
            coalesce="book",
            running_covers=True,
        ),
        # The continuity audit of a book: on the LLM's queue (its judge), one per book.
        JobKind(
            "continuity_check",
            ContinuityCheckParams,
            Queue.LLM,
            needs_book=True,
            needs_chapter=False,
            coalesce="book",
        ),
    )
}


def valid_kinds() -> list[str]:
    return sorted(JOB_KINDS)
