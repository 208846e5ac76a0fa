"""The continuity audit of a book: its findings, the author's marks, the Markdown report. The
audit itself is the `continuity_check` job (POST /jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.api.deps import BookId, StateDep
from services.core.continuity import service
from services.core.continuity.schemas import (
    FindingMark,
    FindingOut,
    FindingPage,
    FindingType,
    Status,
)
from services.core.db import transaction
from services.core.ids import ID_PATTERN

MARKDOWN = "text/markdown; charset=utf-8"

router = APIRouter(prefix="/books/{book_id}/continuity", tags=["continuity"])

FindingId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        max_length=64,
        description="Server-made id: lower-case letters, digits and '-'",
    ),
]


@router.get("/findings")
def list_findings(
    book_id: BookId,
    state: StateDep,
    status: Annotated[Status | None, Query(description="Only findings with this mark")] = None,
    type: Annotated[FindingType | None, Query(description="Only findings of this type")] = None,
) -> FindingPage:
    """The audit's findings, most severe first."""
    with transaction(state.sessions) as session:
        return service.list_findings(session, book_id, status=status, type=type)


@router.patch("/findings/{finding_id}")
def mark_finding(
    book_id: BookId, finding_id: FindingId, body: FindingMark, state: StateDep
) -> FindingOut:
    """Mark a finding fix, ignore or intentional: it does not come back on the next audit unless
    one of its passages changes."""
    with transaction(state.sessions) as session:
        return service.mark_finding(session, book_id, finding_id, body.status)


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {MARKDOWN: {"schema": {"type": "string"}}}}},
)
def report(book_id: BookId, state: StateDep) -> Response:
    """The findings as a Markdown report."""
    with transaction(state.sessions) as session:
        text = service.report(session, book_id)
    return Response(text, media_type=MARKDOWN)
