"""Submitting jobs to the API under test and waiting for them, shared by the test modules."""

from __future__ import annotations

import time
from typing import Any

import httpx
import redis

from services.api.sse import SseEvent, parse_events
from services.core.jobs.events import decode_event, stream_key

TERMINAL = ("succeeded", "failed", "cancelled")


def submit(
    api: httpx.Client, kind: str, book_id: str | None, chapter_id: str | None = None, **params: Any
) -> str:
    response = api.post(
        "/jobs",
        json={"kind": kind, "book_id": book_id, "chapter_id": chapter_id, "params": params},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def follow(api: httpx.Client, job_id: str, headers: dict[str, str] | None = None) -> list[SseEvent]:
    """Every event of the job's SSE stream, until its `final` event."""
    with api.stream("GET", f"/jobs/{job_id}/events", headers=headers or {}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(parse_events(response.iter_lines()))


def finished(api: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """The job once it ended, however it ended."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.get('status')} after {timeout}s")


def succeeded(api: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    job = finished(api, job_id, timeout)
    assert job["status"] == "succeeded", job
    return job


def assert_ask_cites(api: httpx.Client, saved: dict[str, Any], question: str) -> None:
    """Once the save's indexing job is done, `ask` about the chapter cites it first."""
    succeeded(api, saved["index_job_id"])
    asked = api.post(
        "/ask?wait=120",
        json={"book_id": saved["book_id"], "question": question, "max_tokens": 32},
    )
    assert asked.status_code == 200, asked.text
    citations = asked.json()["result"]["citations"]
    assert citations and citations[0]["chapter_id"] == saved["chapter_id"]


def live_progress(redis_url: str, job_id: str) -> dict[str, Any]:
    """The job's latest progress as its worker published it, and whether text has streamed:
    the row only copies progress every JOB_HEARTBEAT (2 s), longer than some stages take."""
    client = redis.Redis.from_url(redis_url)
    try:
        latest: dict[str, Any] = {}
        streamed = False
        for _, fields in client.xrevrange(stream_key(job_id), count=2000):
            event = decode_event(fields)
            streamed = streamed or event.get("type") == "delta"
            if not latest and event.get("type") == "progress":
                latest = {"progress": event["progress"], "message": event["message"]}
        return {**latest, "streamed": streamed} if latest else {"streamed": streamed}
    finally:
        client.close()
