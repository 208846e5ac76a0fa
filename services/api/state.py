"""Process-wide resources of the API, built once at start-up from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from celery import Celery
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.broker.celery_app import CeleryDispatcher, create_celery
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory
from services.core.jobs.events import JobEventPublisher
from services.core.jobs.submission import JobSubmitter
from services.core.llm.client import LLMClient
from services.core.memory.store import MemoryStore
from services.core.ratelimit import JobRateLimiter


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    aredis: aioredis.Redis
    celery: Celery
    dispatcher: CeleryDispatcher
    llm: LLMClient
    publisher: JobEventPublisher
    job_limiter: JobRateLimiter
    # Job submission (create → commit → send) and sending what a transaction committed.
    jobs: JobSubmitter
    _memory: MemoryStore | None = None

    @property
    def memory(self) -> MemoryStore:
        # The API searches, reads and deletes memory; the embedder loads its model on first
        # use (a query), and Chroma is connected on first use too.
        if self._memory is None:
            self._memory = MemoryStore.from_settings(self.settings)
        return self._memory

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = make_engine(settings.database_url)
        sync_redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        celery = create_celery(settings)
        sessions = make_session_factory(engine)
        dispatcher = CeleryDispatcher(celery)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=sync_redis,
            aredis=aioredis.Redis.from_url(settings.redis_url),
            celery=celery,
            dispatcher=dispatcher,
            llm=LLMClient(settings),
            publisher=JobEventPublisher(sync_redis, settings.job_events_ttl_s),
            job_limiter=JobRateLimiter(sync_redis, settings.rate_limit_jobs_per_minute),
            jobs=JobSubmitter(sessions, dispatcher),
        )

    async def close(self) -> None:
        await self.aredis.aclose()
        self.redis.close()
        self.engine.dispose()
