"""Memory as an aid to every writing handler: when the book's memory is down, or finds nothing,
the handler still writes, and its result says so with the same note.

The one place that decides what "memory unavailable" and "memory empty" look like to an author;
the retrieval itself is whatever search the handler passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from services.core.jobs.context import JobContext
from services.core.memory.store import Passage

log = logging.getLogger(__name__)

UNAVAILABLE_NOTE = "the book's memory is unavailable ({error}); written without it"
EMPTY_NOTE = "the book's memory found no related passages: are the other chapters indexed?"


@dataclass
class Recall:
    passages: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # empty, or the one memory note


def recall(ctx: JobContext, search: Callable[[], list[Passage]]) -> Recall:
    """Run the handler's search; a failure or an empty answer becomes the shared note."""
    try:
        passages = search()
    except Exception as exc:  # memory is an aid: the text is still written without it
        log.warning("%s without memory for job %s: %s", ctx.kind, ctx.job_id, exc)
        return Recall([], [UNAVAILABLE_NOTE.format(error=exc)])
    return Recall(passages, [] if passages else [EMPTY_NOTE])


def empty_note(passages: list[Passage]) -> list[str]:
    """The note for passages a handler filtered after the search (and found none left)."""
    return [] if passages else [EMPTY_NOTE]
