"""Reading the artifacts jobs produced (suggestions, critiques, ideas, scenes, metadata)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core.artifacts.repository import ArtifactRepository
from services.core.artifacts.schemas import ArtifactOut
from services.core.errors import NotFound


def list_artifacts(
    session: Session, *, book_id: str | None, chapter_id: str | None, limit: int
) -> list[ArtifactOut]:
    """Newest first, filtered by book or chapter."""
    found = ArtifactRepository(session).list(book_id=book_id, chapter_id=chapter_id, limit=limit)
    return [ArtifactOut.model_validate(a) for a in found]


def get_artifact(session: Session, artifact_id: str) -> ArtifactOut:
    artifact = ArtifactRepository(session).get(artifact_id)
    if artifact is None:
        raise NotFound(f"artifact {artifact_id!r} not found")
    return ArtifactOut.model_validate(artifact)
