"""SIGKILL of the worker in the middle of every job kind: a new worker takes the job over, it
ends, and its effect happens once (one artifact and one file, one set of vectors, no chapter or
revision twice).

The real LLM sits behind a proxy that slows its stream down, so every LLM job is still
generating when the kill comes (the small model alone often answers in under a second).
`suggest` and `reindex_book` have their own kill tests (test_recovery, test_reindex);
`build_bible` is a fan-out of `extract_facts` on the same machinery as `reindex_book`.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, start_stack
from tests.job_client import finished, live_progress
from tests.memory_support import expected_passages
from tests.worker.test_reindex import memory_ids

CHUNK_DELAY_S = 0.05  # per streamed chunk (about a token): 100 tokens take 5 s
STORY = (
    "Ana chegou ao porto de Lisboa numa manhã de nevoeiro. O irmão, Pedro, esperava-a com uma "
    "carta do pai, que morrera em Angola. Na carta, o pai pedia-lhes que vendessem a casa da Rua "
    "das Flores e que nunca confiassem no tio Joaquim. "
)


class SlowLLM(ThreadingHTTPServer):
    """Relays an OpenAI-compatible server, pausing before each streamed chunk."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.http = httpx.Client(timeout=120)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Relay(BaseHTTPRequestHandler):
    server: SlowLLM

    def log_message(self, *_: Any) -> None:
        pass

    def _relay(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {"content-type": self.headers.get("content-type", "application/json")}
        try:
            with self.server.http.stream(
                method, self.server.upstream + self.path, content=body, headers=headers
            ) as upstream:
                self.send_response(upstream.status_code)
                self.send_header("content-type", upstream.headers.get("content-type", ""))
                self.end_headers()
                for chunk in upstream.iter_raw():
                    if b"data:" in chunk:
                        time.sleep(CHUNK_DELAY_S)
                    self.wfile.write(chunk)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker that asked was killed

    def do_GET(self) -> None:
        self._relay("GET")

    def do_POST(self) -> None:
        self._relay("POST")


@pytest.fixture(scope="module")
def slow_llm(llm_url: str) -> Iterator[str]:
    server = SlowLLM(llm_url)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def kill_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    slow_llm: str,
    logs_dir: Path,
    chroma_server: tuple[str, int],
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("killkinds"),
        redis_base=redis_base,
        llm_url=slow_llm,
        logs_dir=logs_dir,
        chroma=chroma_server,
        with_worker=False,
        # A short lease: the job of a killed worker is taken over within seconds. Not shorter:
        # on a slow machine a live import's heartbeat was once late by 5 s, and the worker's own
        # recovery took its job over while it ran (attempts 3, not 2).
        # Without the story bible's follow-ups: an index job's extract_facts would be the
        # first job a doomed llm worker of a later case takes, instead of the one under test.
        extra_env={
            "JOB_HEARTBEAT": "1",
            "JOB_LEASE": "10",
            "JOB_RECOVERY_SCAN": "1",
            "BIBLE_AUTO_EXTRACT": "false",
        },
    )
    try:
        yield running
    finally:
        running.stop()


def _book_with_chapter(api: httpx.Client) -> tuple[str, str]:
    book = api.post("/books", json={"title": "O Porto", "language": "pt-BR"}).json()["id"]
    saved = api.post(
        "/chapter/save", json={"book_id": book, "title": "A carta", "text": STORY * 6}
    ).json()
    # No worker runs yet: drop the indexing the save queued, so the first job the doomed worker
    # takes is the one under test.
    cancelled = api.post(f"/jobs/{saved['index_job_id']}/cancel")
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    return book, saved["chapter_id"]


def _manuscript(chapters: int) -> bytes:
    return "\n".join(f"# Capítulo {n}\n\n{STORY * 3}\n" for n in range(1, chapters + 1)).encode()


IMPORT_CHAPTERS = 1500


def generating(job: dict[str, Any]) -> bool:
    """At least 10 tokens streamed (the message of a generating job says how many)."""
    found = re.search(r"\((\d+) tokens\)", job["message"])
    return found is not None and int(found.group(1)) >= 10


# kind → (queue, params, "far enough into the job to kill it")
CASES: dict[str, tuple[str, dict[str, Any], Callable[[dict[str, Any]], bool]]] = {
    "critique": ("llm", {"max_tokens": 400}, generating),
    "ask": ("llm", {"question": "Quem esperava Ana no porto?", "max_tokens": 300}, generating),
    # One idea: three ideas' JSON can outgrow 500 tokens on the small model and fail validation.
    "ideate": ("llm", {"count": 1, "max_tokens": 500}, generating),
    "expand": (
        "llm",
        {"instructions": "Escreva a cena da leitura da carta.", "save_as_chapter": True},
        generating,
    ),
    "extract_metadata": ("llm", {"max_tokens": 400}, generating),
    # The summary being written (after the passages were stored, for index_chapter).
    "summarize_chapter": ("llm", {}, lambda job: job["progress"] >= 0.6),
    "index_chapter": (
        "index",
        {"force": True, "summarize": True},
        lambda job: job["progress"] >= 0.6,
    ),
    # Chapters saved, their files being written.
    "import_manuscript": ("index", {}, lambda job: job["progress"] >= 0.35),
    # Names found, the model reading the chapter.
    "extract_facts": ("llm", {"use_llm": True, "force": True}, lambda job: job["progress"] >= 0.05),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_sigkill_mid_job_then_done_once(kill_stack: Stack, kind: str) -> None:
    queue, params, far_enough = CASES[kind]
    stack = kill_stack
    with stack.client() as api:
        book, chapter = _book_with_chapter(api)
        chapters_before = len(api.get(f"/books/{book}/chapters").json())
        if kind == "import_manuscript":
            upload = api.post(
                f"/books/{book}/import",
                files={"file": ("livro.md", _manuscript(IMPORT_CHAPTERS))},
                params={"reindex": "false"},
            )
            assert upload.status_code == 202, upload.text
            job_id = upload.json()["id"]
        else:
            chapter_id = None if kind in ("ask", "ideate", "expand") else chapter
            response = api.post(
                "/jobs",
                json={"kind": kind, "book_id": book, "chapter_id": chapter_id, "params": params},
            )
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]

        doomed = stack.start_worker(queue, name=f"doomed-{kind}")
        try:
            deadline = time.monotonic() + 120
            while True:
                # Frozen while we look: a fast stage (an import writes 1,500 files in well under
                # a second) cannot finish the job between our reading and the kill.
                os.killpg(doomed.pid, signal.SIGSTOP)
                job = {
                    **api.get(f"/jobs/{job_id}").json(),
                    **live_progress(stack.settings.redis_url, job_id),
                }
                if job["status"] == "running" and far_enough(job):
                    break
                os.killpg(doomed.pid, signal.SIGCONT)
                assert job["status"] in ("queued", "running"), job
                assert time.monotonic() < deadline, f"{kind} never got far enough: {job}"
                time.sleep(0.02)
        finally:
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        assert api.get(f"/jobs/{job_id}").json()["status"] == "running", "killed mid-job"

        rescuer = stack.start_worker(queue, name=f"rescuer-{kind}")
        try:
            done = finished(api, job_id, timeout=300)
        finally:
            os.killpg(rescuer.pid, signal.SIGTERM)
            rescuer.wait(30)
        assert done["status"] == "succeeded", (done.get("error"), done.get("message"))
        assert done["attempts"] == 2, "taken over once"
        _assert_done_once(api, stack, kind, job_id, book, chapter, chapters_before)


def _assert_done_once(
    api: httpx.Client,
    stack: Stack,
    kind: str,
    job_id: str,
    book: str,
    chapter: str,
    chapters_before: int,
) -> None:
    files = [p.name for p in stack.settings.chapters_dir.iterdir() if not p.name.startswith(".")]
    artifacts = [a for a in api.get("/artifacts", params={"book_id": book}).json()]
    mine = [a for a in artifacts if a["job_id"] == job_id]
    assert len(mine) <= 1, "one artifact per job"
    for artifact in mine:
        assert sum(f.endswith(f"__{artifact['id']}.md") for f in files) == 1, "one artifact file"
    chapters = api.get(f"/books/{book}/chapters").json()
    original = api.get(f"/chapters/{chapter}").json()
    assert original["current_revision"] == 1, "the chapter under the job got no revision"
    assert sum(f.startswith(f"{book}__") for f in files) == len(chapters), "one file per chapter"

    if kind in ("critique", "ideate", "extract_metadata"):
        assert len(mine) == 1
    if kind == "expand":
        assert len(chapters) == chapters_before + 1, "the scene saved as one chapter"
        scene = api.get(f"/chapters/{chapters[-1]['id']}").json()
        assert len(scene["revisions"]) == 1
    elif kind == "import_manuscript":
        assert len(chapters) == chapters_before + IMPORT_CHAPTERS, "every chapter imported once"
        titles = [c["title"] for c in chapters]
        assert len(titles) == len(set(titles))
    else:
        assert len(chapters) == chapters_before
    if kind == "extract_metadata":
        assert original["metadata"], "metadata stored on the chapter"
    if kind == "summarize_chapter":
        assert original["summary"]
    if kind == "extract_facts":
        bible = f"/books/{book}/bible"
        entities = api.get(f"{bible}/entities", params={"limit": 500}).json()["items"]
        names = [e["name"] for e in entities]
        assert "Ana" in names and len(names) == len(set(names)), "one entity per name"
        facts = [
            (f["entity_id"], f["attribute"], f["value"], f["start"])
            for e in entities
            for f in api.get(f"{bible}/entities/{e['id']}").json()["facts"]
        ]
        assert len(facts) == len(set(facts)), "each fact stored once"
    if kind == "index_chapter":
        expected = expected_passages(original["title"], original["text"])
        ids = memory_ids(api, stack, book)
        passages = [i for i in ids if ":chunk:" in i]
        assert len(passages) == len(set(passages)) == expected, "one set of vectors"
        assert len(ids) == len(set(ids)) == expected + 1, "plus one summary"
