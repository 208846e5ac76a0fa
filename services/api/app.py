"""The FastAPI application factory (`uvicorn --factory services.api.app:create_app`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.api.deps import require_token
from services.api.errors import ERROR_RESPONSES, install_error_handlers
from services.api.limits import RESTORE_PATH, UPLOAD_PATH, BodySizeLimit
from services.api.routers import (
    archives,
    artifacts,
    bible,
    bible_portability,
    books,
    chapters,
    continuity,
    health,
    jobs,
    manuscripts,
    memory,
    metrics,
    writing,
)
from services.api.state import AppState
from services.core.config import Settings
from services.core.logs import configure_logging

log = logging.getLogger("copiloto.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        app.state.copiloto = AppState.build(settings)
        if not settings.api_token:
            log.warning("API_TOKEN is not set: the API must listen on loopback only")
        yield
        await app.state.copiloto.close()

    app = FastAPI(
        title="Copiloto API",
        version="0.1.0",
        description="Writing copilot with memory: books, chapters and background jobs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        # Book files may be larger than other bodies, up to their own limit.
        overrides=[
            (UPLOAD_PATH, settings.max_upload_bytes, "MAX_UPLOAD_BYTES"),
            (RESTORE_PATH, settings.max_archive_bytes, "MAX_ARCHIVE_BYTES"),
        ],
    )
    app.include_router(health.public)
    protected = [Depends(require_token)]
    for module in (
        health,
        books,
        chapters,
        jobs,
        artifacts,
        memory,
        writing,
        manuscripts,
        archives,
        bible,
        bible_portability,
        continuity,
        metrics,
    ):
        app.include_router(module.router, dependencies=protected, responses=ERROR_RESPONSES)
    return app
