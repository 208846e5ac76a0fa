"""The story bible in and out of a book: export (JSON, Markdown, SillyTavern World Info) and
import (our JSON, SillyTavern or NovelAI lorebooks) with a dry-run preview of the conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.api.deps import BookId, StateDep
from services.core.bible.portability import (
    MEDIA_TYPES,
    entity_notes,
    export_bible,
    export_file_name,
    import_bible,
)
from services.core.books.service import get_book
from services.core.db import transaction
from services.core.ids import ID_PATTERN

router = APIRouter(prefix="/books/{book_id}/bible", tags=["bible"])


class ImportReportOut(BaseModel):
    dry_run: bool
    created: list[dict[str, Any]] = Field(description="Entities the file adds")
    updated: list[dict[str, Any]] = Field(description="Entities that gain names, notes or facts")
    conflicts: list[dict[str, Any]] = Field(
        description="Differences from entities the author made or edited: not applied"
    )
    skipped_facts: list[dict[str, Any]] = Field(
        description="Facts whose quote is not in this book's chapters as they are now"
    )


class NoteOut(BaseModel):
    id: int
    text: str
    source: str = Field(description="Where it came from: json, sillytavern or novelai")
    created_at: datetime


class NotesOut(BaseModel):
    items: list[NoteOut]


# The JSON downloads: ours (format, version, book, chapters, entities) or World Info (entries).
_JSON_DOWNLOAD = {
    "type": "object",
    "properties": {
        "format": {"type": "string"},
        "version": {"type": "integer"},
        "entities": {"type": "array", "items": {"type": "object"}},
        "entries": {"type": "object"},
    },
}


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {"schema": _JSON_DOWNLOAD},
                MEDIA_TYPES["markdown"]: {"schema": {"type": "string"}},
            }
        }
    },
)
def export(
    book_id: BookId,
    state: StateDep,
    format: Literal["json", "markdown", "sillytavern"] = Query(
        "json", description="json (everything), markdown (to read) or sillytavern (World Info)"
    ),
) -> Response:
    """The book's bible as a file to download."""
    with transaction(state.sessions) as session:
        book = get_book(session, book_id)
        data = export_bible(session, book_id, format)
        name = export_file_name(book.title, book.id, format)
    return Response(
        data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/import")
def import_file(
    book_id: BookId,
    state: StateDep,
    file: Annotated[UploadFile, File(description="A bible or lorebook JSON file")],
    format: Literal["json", "sillytavern", "novelai"] = Query(
        "json", description="json (a Copiloto export), sillytavern or novelai (lorebooks)"
    ),
    dry_run: bool = Query(False, description="Only say what would change; save nothing"),
) -> ImportReportOut:
    """Add the file's entities, names, notes and facts to the book's bible, as the author's.
    Differences from what the author made or edited are listed as conflicts and left alone;
    a bad file answers 4xx naming the entry and field, and nothing changes."""
    limit = state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    with transaction(state.sessions) as session:
        report = import_bible(session, book_id, data, format, dry_run=dry_run, max_bytes=limit)
        if dry_run:
            session.rollback()
    return ImportReportOut(**report.as_dict())


@router.get("/entities/{entity_id}/notes")
def get_notes(
    book_id: BookId,
    state: StateDep,
    entity_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
) -> NotesOut:
    """An entity's notes: imported lorebook text, which quotes no chapter (not facts)."""
    with transaction(state.sessions) as session:
        notes = entity_notes(session, book_id, entity_id)
        return NotesOut(
            items=[
                NoteOut(id=n.id, text=n.text, source=n.source, created_at=n.created_at)
                for n in notes
            ]
        )
