"""Memory as an aid: every writing handler gets the same note when memory is down or empty."""

from __future__ import annotations

from typing import cast

from services.core.jobs.context import JobContext
from services.core.memory.store import Passage
from services.core.writing.recall import EMPTY_NOTE, UNAVAILABLE_NOTE, empty_note, recall


class FakeContext:
    kind = "suggest"
    job_id = "job-1"


CTX = cast(JobContext, FakeContext())


def passage() -> Passage:
    # `recall` never looks inside a passage (the memory work may reshape it).
    return cast(Passage, object())


def test_memory_down_is_a_note_not_a_failure() -> None:
    def search() -> list[Passage]:
        raise ConnectionError("chroma refused the connection")

    found = recall(CTX, search)
    assert found.passages == []
    assert found.notes == [UNAVAILABLE_NOTE.format(error="chroma refused the connection")]


def test_memory_empty_is_the_other_note() -> None:
    assert recall(CTX, list).notes == [EMPTY_NOTE]
    assert empty_note([]) == [EMPTY_NOTE]


def test_passages_found_carry_no_note() -> None:
    one = passage()
    found = recall(CTX, lambda: [one])
    assert found.passages == [one] and found.notes == [] and empty_note([one]) == []


def test_every_writing_handler_uses_the_one_helper() -> None:
    """No handler keeps a fallback of its own: the search goes through `recall`."""
    from pathlib import Path

    writing = Path(__file__).resolve().parents[3] / "services" / "core" / "writing"
    for name in ("ask", "critique", "expand", "suggest"):
        source = (writing / f"{name}.py").read_text(encoding="utf-8")
        assert "recall(" in source and "except Exception" not in source, name
