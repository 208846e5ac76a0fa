"""Log lines of every process: readable text or one JSON object per line, each with the id of the
job being run (`LOG_FORMAT`), so one job's lines can be found across workers and hosts."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from services.core.config import Settings

# Set while a job runs, in the thread (or process) that runs it.
current_job_id: ContextVar[str | None] = ContextVar("current_job_id", default=None)

# Loggers that servers configure with handlers of their own; in JSON mode their lines must go
# through the root handler too, or one process would write two formats.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task")


@contextmanager
def job_logging(job_id: str) -> Iterator[None]:
    """Every line logged inside carries `job_id` (threads started inside must copy the context)."""
    token = current_job_id.set(job_id)
    try:
        yield
    finally:
        current_job_id.reset(token)


class JobIdFilter(logging.Filter):
    """Adds `job_id` (None outside a job) to every record that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = current_job_id.get()
        record.job_id = job_id
        record.job_tag = f" [job {job_id}]" if job_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, job_id, process (+ exc_info)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(job_tag)s: %(message)s"


class _CopilotoHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring twice replaces it."""


def configure_logging(settings: Settings, level: str | int | None = None) -> logging.Handler:
    """Send every log line of this process to stderr in the configured format.

    Only the handler installed here is replaced; others (a test runner's capture) stay.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _CopilotoHandler):
            root.removeHandler(handler)
    handler = _CopilotoHandler(sys.stderr)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(
        JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(level or settings.log_level.upper())
    if settings.log_format == "json":
        for name in _SERVER_LOGGERS:
            server_logger = logging.getLogger(name)
            server_logger.handlers.clear()
            server_logger.propagate = True
    return handler
