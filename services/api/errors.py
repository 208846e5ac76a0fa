"""Error handlers: every failure becomes a JSON answer with a message that says what to fix."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError as DatabaseError

from services.core.errors import DomainError

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(DatabaseError)
    async def _database(_: Request, exc: DatabaseError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": "the catalog database is unavailable; try again shortly"}, status_code=503
        )

    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(BrokerError)
    async def _broker(_: Request, exc: Exception) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return JSONResponse(
            {"detail": "the job broker (Redis) is unavailable; try again shortly"}, status_code=503
        )
