"""Error handlers: every failure becomes a JSON answer with a message that says what to fix."""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError as DatabaseError

from services.core.errors import DomainError

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every error answer: `detail` says what to fix (a list of problems for invalid fields)."""

    detail: str | list[dict[str, Any]] = Field(description="What went wrong and how to fix it")


_ERRORS = {
    400: "Malformed request (unreadable body or form)",
    401: "Missing or wrong API token",
    404: "No such resource, or no such route",
    409: "Conflicts with the current state (stale revision, job already ended)",
    413: "Body or text larger than the configured limit",
    415: "Unsupported file type",
    422: "Invalid input; the detail names the field",
    429: "Too many job submissions; retry after the Retry-After header",
    503: "A dependency (database, broker, LLM) is unavailable; try again shortly",
}
# Documented on every protected route, so clients (and the schema fuzz test) know every answer.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in _ERRORS.items()
}


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
