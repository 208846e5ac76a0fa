"""Redis restarted (without persistence) in the middle of a batch reindex: the API keeps answering
job status from the catalog, workers reconnect, and the jobs whose messages died with Redis are
sent again by the recovery scan, so every chapter is indexed, once."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.core.manuscripts.parsing import parse_manuscript
from services.launcher.cli import redis_server_binary
from services.launcher.processes import ProcessGroup, port_open, wait_until
from tests import conftest
from tests.conftest import Stack, free_port, start_stack
from tests.job_client import succeeded
from tests.memory_support import expected_passages
from tests.worker.test_reindex import children, memory_ids, wait_progress

CHAPTERS = 16


class PrivateRedis:
    """A redis-server of this test alone, that it may kill and start again (empty)."""

    def __init__(self, group: ProcessGroup) -> None:
        self.group, self.port = group, free_port()
        self.proc = self.start()

    def start(self):  # type: ignore[no-untyped-def]
        argv = [redis_server_binary(), "--port", str(self.port), "--save", "", "--appendonly", "no"]
        proc = self.group.start(f"redis-{self.port}", argv)
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout=20, what="redis", proc=proc)
        return proc

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        self.proc = self.start()


@pytest.fixture()
def redis_stack(
    tmp_path_factory: pytest.TempPathFactory,
    llm_url: str,
    logs_dir: Path,
    chroma_server: tuple[str, int],
) -> Iterator[tuple[Stack, PrivateRedis]]:
    group = ProcessGroup(logs_dir / "private-redis")
    server = PrivateRedis(group)
    stack = start_stack(
        tmp_path_factory.mktemp("redisrestart"),
        redis_base=f"redis://127.0.0.1:{server.port}",
        llm_url=llm_url,
        logs_dir=logs_dir,
        chroma=chroma_server,
        # The bible's follow-up (an LLM pass over every chapter) is not what this outage
        # test is about, and its jobs would still be running when the reindex's are checked.
        extra_env={
            "JOB_RECOVERY_SCAN": "1",
            "JOB_QUEUED_RESEND_AFTER": "3",
            "BIBLE_AUTO_EXTRACT": "false",
        },
    )
    try:
        yield stack, server
    finally:
        stack.stop()
        group.stop()
        # The session's clean-up flushes the Redis databases it claimed: not this one, gone.
        claimed = conftest._claimed_redis_dbs
        claimed[:] = [c for c in claimed if not c[0].endswith(f":{server.port}")]


def manuscript(chapters: int) -> bytes:
    rng = random.Random(7)
    words = [
        "mar",
        "vento",
        "porto",
        "navio",
        "casa",
        "noite",
        "rua",
        "carta",
        "irmã",
        "cidade",
        "sol",
        "chuva",
        "livro",
    ]
    parts = []
    for n in range(1, chapters + 1):
        body = " ".join(rng.choice(words) for _ in range(450))
        parts.append(f"# Capítulo {n}\n\n{body}.\n")
    return "\n".join(parts).encode()


def test_redis_restart_mid_reindex_loses_no_job(
    redis_stack: tuple[Stack, PrivateRedis],
) -> None:
    stack, server = redis_stack
    data = manuscript(CHAPTERS)
    expected_chunks = sum(
        expected_passages(c.title, c.text) for c in parse_manuscript("livro.md", data).chapters
    )
    with stack.client() as api:
        book = api.post("/books", json={"title": "Maré"}).json()["id"]
        upload = api.post(
            f"/books/{book}/import",
            files={"file": ("livro.md", data)},
            params={"reindex": "false"},
        )
        assert upload.status_code == 202, upload.text
        assert succeeded(api, upload.json()["id"])["result"]["created"] == CHAPTERS

        reindex = api.post(f"/books/{book}/reindex").json()["id"]
        wait_progress(api, reindex, 1 / CHAPTERS, timeout=120)
        server.kill()
        down_at = time.monotonic()

        # Redis is down: the catalog still answers for every job, quickly.
        slowest = 0.0
        while time.monotonic() - down_at < 4.0:
            started = time.monotonic()
            status = api.get(f"/jobs/{reindex}")
            slowest = max(slowest, time.monotonic() - started)
            assert status.status_code == 200, status.text
            assert status.json()["status"] == "running"
            assert api.get(f"/books/{book}/chapters").status_code == 200
            time.sleep(0.2)
        assert slowest < 1.0, f"GET /jobs/{{id}} took {slowest:.2f}s while Redis was down"
        # A forced reindex of this book would only queue behind the running one (coalescing)
        # and need no broker yet; another book's reindex must be sent now, and cannot be.
        other = api.post("/books", json={"title": "Outro"}).json()["id"]
        refused = api.post(f"/books/{other}/reindex", json={"force": True})
        assert refused.status_code == 503 and "Redis" in refused.json()["detail"]
        lost = [c for c in children(api, book) if c["status"] == "queued"]
        assert lost, "the kill came too late: no chapter was left waiting in the queue"

        server.restart()  # empty: every queued message is gone
        done = succeeded(api, reindex, timeout=240)
        print(f"reindex finished {time.monotonic() - down_at:.1f}s after Redis went down")

        assert done["result"]["indexed"] + done["result"]["skipped"] == CHAPTERS
        mine = [c for c in children(api, book) if c["parent_id"] == reindex]
        assert len(mine) == CHAPTERS
        assert {c["status"] for c in mine} == {"succeeded"}, [c["message"] for c in mine]
        ids = memory_ids(api, stack, book)
        assert len(ids) == len(set(ids)) == expected_chunks, "one set of passages per chapter"
        assert api.get("/jobs", params={"status": "queued"}).json()["total"] == 0
        assert api.get("/jobs", params={"status": "running"}).json()["total"] == 0
        failed = api.get("/jobs", params={"status": "failed"}).json()["items"]
        assert [j["kind"] for j in failed] == ["reindex_book"], "only the refused submission"
        assert failed[0]["error"].startswith("broker unavailable")

    logs = "".join(p.read_text() for p in stack.group.log_dir.glob("worker-*.log"))
    assert "sent again queued jobs the broker had lost" in logs
