"""Artifacts produced by jobs (suggestions, critiques, ideas, scenes)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.api.deps import ArtifactId, StateDep
from services.core.artifacts import service
from services.core.artifacts.schemas import ArtifactOut
from services.core.db import transaction
from services.core.ids import ID_PATTERN

router = APIRouter(tags=["artifacts"])


@router.get("/artifacts")
def list_artifacts(
    state: StateDep,
    book_id: str | None = Query(None, pattern=ID_PATTERN, max_length=64),
    chapter_id: str | None = Query(None, pattern=ID_PATTERN, max_length=64),
    limit: int = Query(100, ge=1, le=500),
) -> list[ArtifactOut]:
    """Artifacts, newest first, filtered by book or chapter."""
    with transaction(state.sessions) as session:
        return service.list_artifacts(session, book_id=book_id, chapter_id=chapter_id, limit=limit)


@router.get("/artifacts/{artifact_id}")
def get_artifact(artifact_id: ArtifactId, state: StateDep) -> ArtifactOut:
    """One artifact."""
    with transaction(state.sessions) as session:
        return service.get_artifact(session, artifact_id)
