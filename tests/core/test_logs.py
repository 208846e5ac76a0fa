"""Log lines: JSON or text, with the id of the job being run, in the job's threads too."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading

from services.core.config import Settings
from services.core.logs import configure_logging, job_logging


def _capture(log_format: str) -> tuple[io.StringIO, logging.Handler]:
    handler = configure_logging(Settings(_env_file=None, LOG_FORMAT=log_format))  # type: ignore[call-arg]
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    return stream, handler


def test_json_lines_carry_the_job_id_in_the_jobs_threads() -> None:
    stream, handler = _capture("json")
    log = logging.getLogger("copiloto.test")
    try:
        log.info("before")
        with job_logging("job-1"):
            log.warning("inside %s", "the job")
            # A thread started by the job with the job's context (as the lease thread does).
            thread = threading.Thread(
                target=contextvars.copy_context().run, args=(log.info, "from a thread")
            )
            thread.start()
            thread.join()
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        log.info("after")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["job_id"]) for line in lines] == [
        ("before", None),
        ("inside the job", "job-1"),
        ("from a thread", "job-1"),
        ("failed", "job-1"),
        ("after", None),
    ]
    assert lines[1]["level"] == "WARNING" and lines[1]["logger"] == "copiloto.test"
    assert "ValueError: boom" in lines[3]["exc_info"]


def test_text_lines_tag_the_job_and_configuring_twice_keeps_one_handler() -> None:
    configure_logging(Settings(_env_file=None))  # type: ignore[call-arg]
    stream, handler = _capture("text")
    try:
        ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_CopilotoHandler"]
        assert ours == [handler]
        with job_logging("job-2"):
            logging.getLogger("copiloto.test").info("hello")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    assert stream.getvalue().rstrip().endswith("INFO copiloto.test [job job-2]: hello")
