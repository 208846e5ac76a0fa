"""The job kinds the system runs: their parameters, what they need, and the queue they go to."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from services.core.jobs.schemas import SuggestParams


@dataclass(frozen=True)
class JobKind:
    name: str
    params: type[BaseModel]
    queue: str  # "llm" for interactive generation, "index" for bulk CPU work
    needs_book: bool
    needs_chapter: bool


JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("suggest", SuggestParams, queue="llm", needs_book=True, needs_chapter=True),
    )
}


def valid_kinds() -> list[str]:
    return sorted(JOB_KINDS)
