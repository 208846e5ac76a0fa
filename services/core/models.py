"""Imports every catalog model so that `Base.metadata` knows all tables (Alembic, tests)."""

from services.core.artifacts.models import Artifact
from services.core.bible.models import (
    BibleAlias,
    BibleEntity,
    BibleExtraction,
    BibleFact,
    BibleMention,
)
from services.core.bible.notes import BibleNote
from services.core.books.models import Book
from services.core.chapters.models import Chapter, ChapterRevision
from services.core.continuity.models import ContinuityChapter, ContinuityFinding
from services.core.db import Base
from services.core.jobs.models import Job

__all__ = [
    "Artifact",
    "Base",
    "BibleAlias",
    "BibleEntity",
    "BibleExtraction",
    "BibleFact",
    "BibleMention",
    "BibleNote",
    "Book",
    "Chapter",
    "ChapterRevision",
    "ContinuityChapter",
    "ContinuityFinding",
    "Job",
]
