"""In-process job fixtures for the worker tests: a real catalog (SQLite or PostgreSQL) and
Redis, with a dispatcher that records what would be sent and a memory store that can fail."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from services.core.config import Settings
from services.core.db import make_engine, make_session_factory
from services.core.jobs.runner import WorkerDeps
from services.core.llm.client import LLMClient
from services.core.memory.embeddings import MiniLMEmbedder
from services.core.memory.store import MemoryDocument
from services.core.migrate import upgrade
from tests.conftest import claim_redis_db, release_redis_db


class FlakyStore:
    """Holds passages in a dict; every write for the chapters in `broken` fails (the only fake
    here: a real store cannot be made to fail for one chapter on demand)."""

    def __init__(self) -> None:
        self.docs: dict[str, MemoryDocument] = {}
        self.broken: set[str] = set()
        self.calls: dict[str, int] = {}
        self.embedder = MiniLMEmbedder()  # its tokenizer bounds the passages; never embeds here

    def chapter_ids(self, book_id: str, chapter_id: str) -> set[str]:
        return {k for k, d in self.docs.items() if d.metadata["chapter_id"] == chapter_id}

    def upsert(self, documents: Sequence[MemoryDocument]) -> None:
        for doc in documents:
            chapter = str(doc.metadata["chapter_id"])
            self.calls[chapter] = self.calls.get(chapter, 0) + 1
            if chapter in self.broken:
                raise ConnectionError("vector store timed out")
            self.docs[doc.doc_id] = doc

    def delete(self, book_id: str, ids: Sequence[str]) -> None:
        for doc_id in ids:
            self.docs.pop(doc_id, None)

    def older_collections(self, book_id: str) -> list[object]:
        return []  # one model here: nothing being rebuilt beside


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def dispatch(self, job_id: str, queue: str) -> None:
        self.sent.append((job_id, queue))

    def indexing(self) -> list[tuple[str, str]]:
        """What was sent to the index queues (a reindex also sends the book's `build_bible`
        to the llm queue, BIBLE_AUTO_EXTRACT)."""
        return [(job_id, queue) for job_id, queue in self.sent if queue != "llm"]


@pytest.fixture(params=["sqlite", "postgresql"])
def deps(request: pytest.FixtureRequest, tmp_path: Path, redis_base: str) -> Iterator[WorkerDeps]:
    overrides = {}
    if request.param == "postgresql":
        overrides["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATA_DIR=str(tmp_path), REDIS_URL=claim_redis_db(redis_base), **overrides
    )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    store: Any = FlakyStore()
    yield WorkerDeps(
        settings=settings,
        sessions=make_session_factory(engine),
        redis=redis.Redis.from_url(settings.redis_url),
        llm=LLMClient(settings),
        dispatcher=Recorder(),
        _memory=store,
    )
    engine.dispose()
    # One database per test: give it back, or a session of many such tests runs out of them.
    release_redis_db(settings.redis_url)
