"""An LLM that answers 500s, one that hangs past LLM_TIMEOUT, and the real server killed in the
middle of a generation: bounded retries with backoff, then a `failed` job that says why;
`/ready` shows the LLM down; the API stays fast meanwhile."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.launcher.processes import ProcessGroup
from services.launcher.stack import start_llm_server
from tests.conftest import Stack, start_stack
from tests.job_client import finished
from tests.worker.test_recovery import make_chapter

LLM_MAX_RETRIES = 1  # the OpenAI client's own retries of one request
JOB_MAX_ATTEMPTS = 2  # attempts of the job, with backoff between them
LLM_TIMEOUT_S = 2.0


class BrokenLLM(ThreadingHTTPServer):
    """An OpenAI-compatible server that fails on purpose: `mode` is "error500" or "hang"."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "error500"
        self.chat_requests = 0
        self.released = threading.Event()  # ends the hanging requests at teardown
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: BrokenLLM

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.path.endswith("/chat/completions"):
            length = int(self.headers.get("content-length", 0))
            self.rfile.read(length)
            with self.server.lock:
                self.server.chat_requests += 1
        if self.server.mode == "hang":
            self.server.released.wait(60)
            return
        body = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture()
def broken_llm() -> Iterator[BrokenLLM]:
    server = BrokenLLM()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


def _stack(
    tmp_path_factory: pytest.TempPathFactory, redis_base: str, logs_dir: Path, llm_url: str
) -> Stack:
    return start_stack(
        tmp_path_factory.mktemp("llmfail"),
        redis_base=redis_base,
        llm_url=llm_url,
        logs_dir=logs_dir,
        extra_env={
            "LLM_MAX_RETRIES": str(LLM_MAX_RETRIES),
            "JOB_MAX_ATTEMPTS": str(JOB_MAX_ATTEMPTS),
            "LLM_TIMEOUT": str(LLM_TIMEOUT_S),
            "LLM_CONNECT_TIMEOUT": "1",
            # The LLM requests counted here are the writing job's own: the story bible's
            # extraction after each save would add its own to the broken server's count.
            "BIBLE_AUTO_EXTRACT": "false",
        },
    )


def _read_latencies(client: httpx.Client, job_id: str, until: float) -> list[float]:
    """GET /jobs/{id} and GET /jobs at a steady pace until the job ends or `until`."""
    latencies: list[float] = []
    while time.monotonic() < until:
        started = time.monotonic()
        job = client.get(f"/jobs/{job_id}").json()
        client.get("/jobs", params={"limit": 20})
        latencies.append(time.monotonic() - started)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.1)
    return latencies


@pytest.mark.parametrize("mode", ["error500", "hang"])
def test_llm_failing_ends_in_a_failed_job_after_bounded_retries(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    logs_dir: Path,
    broken_llm: BrokenLLM,
    mode: str,
) -> None:
    broken_llm.mode = mode
    stack = _stack(tmp_path_factory, redis_base, logs_dir, broken_llm.url)
    try:
        with stack.client() as client:
            started = time.monotonic()
            ready = client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["llm"]["state"] == "down", ready.json()
            assert time.monotonic() - started < 10, "a hanging LLM must not hang /ready"

            book_id, chapter_id = make_chapter(client)
            # Saving queued the chapter's indexing, whose summary also asks the LLM: let it end.
            indexing = client.get("/jobs", params={"book_id": book_id, "kind": "index_chapter"})
            finished(client, indexing.json()["items"][0]["id"], timeout=120)
            before = broken_llm.chat_requests
            started = time.monotonic()
            job = client.post(
                "/jobs", json={"kind": "suggest", "book_id": book_id, "chapter_id": chapter_id}
            ).json()
            latencies = _read_latencies(client, job["id"], started + 120)
            done = finished(client, job["id"], timeout=60)
            took = time.monotonic() - started

            assert done["status"] == "failed", done
            assert done["attempts"] == JOB_MAX_ATTEMPTS
            assert f"LLM unavailable after {JOB_MAX_ATTEMPTS} attempts" in done["error"]
            reason = "timed out" if mode == "hang" else "500"
            assert reason in done["error"].lower(), done["error"]
            expected = JOB_MAX_ATTEMPTS * (1 + LLM_MAX_RETRIES)
            assert broken_llm.chat_requests - before == expected, "retries are bounded"
            # Backoff: at least the 2 s wait between the job's attempts (plus the hangs).
            floor = 2.0 + (expected * LLM_TIMEOUT_S if mode == "hang" else 0.0)
            assert took >= floor, f"{took:.1f}s < {floor:.1f}s"
            slowest = max(latencies)
            print(
                f"{mode}: failed after {took:.1f}s, {expected} requests; "
                f"reads while failing: median {statistics.median(latencies) * 1000:.0f} ms, "
                f"max {slowest * 1000:.0f} ms over {len(latencies)}"
            )
            assert slowest < 1.0, "the API stays fast while the LLM fails"
    finally:
        stack.stop()


def test_real_llm_killed_mid_generation_fails_the_job_clearly(
    tmp_path_factory: pytest.TempPathFactory, redis_base: str, logs_dir: Path
) -> None:
    group = ProcessGroup(logs_dir / "private-llm")
    try:
        url = start_llm_server(group)
        stack = _stack(tmp_path_factory, redis_base, logs_dir, url)
    except BaseException:
        group.stop()  # a stack that cannot start must not leave the private server running
        raise
    try:
        with stack.client() as client:
            assert client.get("/ready").json()["checks"]["llm"]["state"] == "up"
            book_id, chapter_id = make_chapter(client)
            job = client.post(
                "/jobs",
                json={
                    "kind": "suggest",
                    "book_id": book_id,
                    "chapter_id": chapter_id,
                    "params": {"max_tokens": 2000, "instructions": "Escreva uma cena longa."},
                },
            ).json()
            deadline = time.monotonic() + 60
            while client.get(f"/jobs/{job['id']}").json()["progress"] < 0.05:
                assert time.monotonic() < deadline, "the job never started generating"
                time.sleep(0.1)
            group.stop()  # the LLM server goes away mid-stream
            done = finished(client, job["id"], timeout=90)
            assert done["status"] == "failed", done
            assert done["attempts"] == JOB_MAX_ATTEMPTS
            assert f"LLM unavailable after {JOB_MAX_ATTEMPTS} attempts" in done["error"]
            assert client.get("/ready").json()["checks"]["llm"]["state"] == "down"
            assert not client.get("/artifacts", params={"chapter_id": chapter_id}).json(), (
                "a failed job leaves no half-written artifact"
            )
    finally:
        stack.stop()
        group.stop()
