"""All SQL about artifacts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.artifacts.models import Artifact


class ArtifactRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, artifact: Artifact) -> Artifact:
        self.session.add(artifact)
        self.session.flush()
        return artifact

    def get(self, artifact_id: str) -> Artifact | None:
        return self.session.get(Artifact, artifact_id)

    def for_job(self, job_id: str) -> Artifact | None:
        return self.session.scalars(select(Artifact).where(Artifact.job_id == job_id)).first()

    def list(
        self, *, book_id: str | None = None, chapter_id: str | None = None, limit: int = 100
    ) -> Sequence[Artifact]:
        stmt = select(Artifact).order_by(Artifact.created_at.desc()).limit(limit)
        if book_id is not None:
            stmt = stmt.where(Artifact.book_id == book_id)
        if chapter_id is not None:
            stmt = stmt.where(Artifact.chapter_id == chapter_id)
        return self.session.scalars(stmt).all()
