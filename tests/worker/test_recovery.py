"""A worker killed mid-job, and an LLM that is down: jobs finish or fail clearly, never hang."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.sse import parse_events
from tests.conftest import Stack, free_port, start_stack
from tests.job_client import live_progress


def wait_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not in {statuses} after {timeout}s: {job}")


def make_chapter(client: httpx.Client) -> tuple[str, str]:
    book = client.post("/books", json={"title": "Recuperação", "language": "pt-BR"}).json()
    saved = client.post(
        "/chapter/save",
        json={"book_id": book["id"], "title": "Tempestade", "text": "O vento uivava no porto."},
    ).json()
    return book["id"], saved["chapter_id"]


@pytest.fixture()
def own_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_base: str, llm_url: str, logs_dir: Path
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("killstack"),
        redis_base=redis_base,
        llm_url=llm_url,
        logs_dir=logs_dir,
        with_worker=False,
    )
    yield running
    running.stop()


def test_killed_worker_loses_no_job(own_stack: Stack) -> None:
    redis_url = own_stack.settings.redis_url
    first = own_stack.start_worker("llm", name="doomed")
    with own_stack.client() as client:
        book_id, chapter_id = make_chapter(client)
        job = client.post(
            "/jobs",
            json={
                "kind": "suggest",
                "book_id": book_id,
                "chapter_id": chapter_id,
                # Short: the worker is frozen mid-stream to be killed, so the length need not
                # make room for the kill, and the rescuer regenerates it all.
                "params": {"max_tokens": 120, "instructions": "Escreva uma cena curta."},
            },
        ).json()
        job_id = job["id"]
        deadline = time.monotonic() + 60
        while True:
            # Frozen while we look: the small model can answer in about a second, less than
            # the job row's progress lags behind, so we read the worker's own events.
            os.killpg(first.pid, signal.SIGSTOP)
            seen = {**client.get(f"/jobs/{job_id}").json(), **live_progress(redis_url, job_id)}
            if seen["status"] == "running" and seen["streamed"]:
                break
            os.killpg(first.pid, signal.SIGCONT)
            assert seen["status"] in ("queued", "running"), seen
            assert time.monotonic() < deadline, f"the job never started generating: {seen}"
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker, mid-generation
        first.wait(10)
        assert client.get(f"/jobs/{job_id}").json()["status"] == "running"

        killed_at = time.monotonic()
        own_stack.start_worker("llm", name="rescuer")
        deadline = killed_at + 60
        while client.get(f"/jobs/{job_id}").json()["attempts"] < 2:
            assert time.monotonic() < deadline, "no worker took the job over within a minute"
            time.sleep(0.2)
        recovery_s = time.monotonic() - killed_at
        done = wait_status(client, job_id, {"succeeded", "failed", "cancelled"}, timeout=240)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2
        print(f"job taken over {recovery_s:.1f}s after the kill")

        artifacts = client.get("/artifacts", params={"chapter_id": chapter_id}).json()
        assert len(artifacts) == 1 and artifacts[0]["job_id"] == job_id
        mirrors = list((own_stack.data_dir / "chapters").glob("sugest_*"))
        assert len(mirrors) == 1
        assert client.get("/jobs", params={"status": "running"}).json()["total"] == 0
        with client.stream("GET", f"/jobs/{job_id}/events") as response:
            kinds = [e.event for e in parse_events(response.iter_lines())]
        assert "reset" in kinds, "clients must be told to drop the text of the lost attempt"
        assert kinds[-1] == "final"


def test_llm_down_retries_with_backoff_then_fails_clearly(
    tmp_path_factory: pytest.TempPathFactory, redis_base: str, logs_dir: Path
) -> None:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    stack = start_stack(
        tmp_path_factory.mktemp("deadllm"),
        redis_base=redis_base,
        llm_url=dead_llm,
        logs_dir=logs_dir,
        extra_env={"LLM_MAX_RETRIES": "0", "JOB_MAX_ATTEMPTS": "2", "LLM_CONNECT_TIMEOUT": "1"},
    )
    try:
        with stack.client() as client:
            ready = client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["llm"]["state"] == "down"
            book_id, chapter_id = make_chapter(client)
            started = time.monotonic()
            job = client.post(
                "/jobs", json={"kind": "suggest", "book_id": book_id, "chapter_id": chapter_id}
            ).json()
            done = wait_status(client, job["id"], {"succeeded", "failed"}, timeout=60)
            assert done["status"] == "failed"
            assert done["attempts"] == 2
            assert "LLM unavailable after 2 attempts" in done["error"]
            assert time.monotonic() - started >= 2.0, (
                "the retry waits (backoff) before trying again"
            )
            fast = time.monotonic()
            assert client.get("/books").status_code == 200
            assert time.monotonic() - fast < 1.0
    finally:
        stack.stop()
