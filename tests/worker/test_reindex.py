"""Whole-book reindex: fan-out per chapter, progress, cancel, and kill -9 of the index worker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.manuscripts.parsing import parse_manuscript
from tests.conftest import Stack
from tests.job_client import succeeded
from tests.memory_support import collection_name, expected_passages

MINILM = "all-MiniLM-L6-v2"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dom-casmurro.txt"


@pytest.fixture()
def own_stack(new_stack: Callable[..., Stack]) -> Iterator[Stack]:
    # The whole novel: the job machinery is under test here, so the 4x faster English model.
    # Without the bible's follow-up: 148 chapters through the LLM is not under test here.
    running = new_stack(
        "reindex",
        with_worker=False,
        extra_env={"EMBEDDING_MODEL": MINILM, "BIBLE_AUTO_EXTRACT": "false"},
    )
    yield running
    running.stop()


def wait_progress(api: httpx.Client, job_id: str, at_least: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while api.get(f"/jobs/{job_id}").json()["progress"] < at_least:
        assert time.monotonic() < deadline, f"job {job_id} below {at_least} after {timeout}s"
        time.sleep(0.1)


def children(api: httpx.Client, book_id: str) -> list[dict[str, Any]]:
    page = api.get("/jobs", params={"book_id": book_id, "kind": "index_chapter", "limit": 500})
    return list(page.json()["items"])


def memory_ids(api: httpx.Client, stack: Stack, book_id: str) -> list[str]:
    name = collection_name(api, book_id)
    ids: list[str] = []
    while True:
        page = api.get(f"/chroma/collection/{name}", params={"limit": 200, "offset": len(ids)})
        items = page.json().get("items", [])
        ids.extend(d["id"] for d in items)
        if len(items) < 200:
            return ids


def test_reindex_survives_kill_9_and_cancel_and_never_indexes_twice(own_stack: Stack) -> None:
    if not CORPUS.is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS.parent} (../shared/corpus)")
    data = CORPUS.read_bytes()
    expected_chunks = sum(
        expected_passages(c.title, c.text, MINILM)
        for c in parse_manuscript("dom-casmurro.txt", data).chapters
    )
    doomed = own_stack.start_worker("index", name="doomed")
    with own_stack.client() as api:
        book = api.post("/books", json={"title": "Dom Casmurro"}).json()["id"]
        upload = api.post(
            f"/books/{book}/import",
            files={"file": ("dom-casmurro.txt", data)},
            params={"reindex": "false"},
        )
        assert upload.status_code == 202, upload.text
        succeeded(api, upload.json()["id"])

        # 1. an author's save in another book while the reindex runs: the urgent queue puts
        # it ahead of the bulk chapters, so it is searchable within seconds
        first = api.post(f"/books/{book}/reindex").json()["id"]
        wait_progress(api, first, 0.05, timeout=120)
        other = api.post("/books", json={"title": "Diário"}).json()["id"]
        saved_at = time.monotonic()
        saved = api.post(
            "/chapter/save",
            json={"book_id": other, "title": "Hoje", "text": "Escrevi sobre o farol da ilha."},
        ).json()
        searchable_at = None
        while time.monotonic() - saved_at < 60:
            if memory_ids(api, own_stack, other):
                searchable_at = time.monotonic()
                break
            time.sleep(0.2)
        assert searchable_at is not None, "the save was not indexed during the reindex"
        waited = searchable_at - saved_at
        print(f"save searchable {waited:.2f}s after it, during a whole-book reindex")
        assert waited < 30, f"the save waited {waited:.1f}s behind the bulk reindex"
        assert api.get(f"/jobs/{first}").json()["status"] == "running", "it did not wait for it"
        assert (
            succeeded(api, saved["index_job_id"], timeout=120)["chapter_id"]
            == (saved["chapter_id"])
        )

        # 2. kill -9 the index worker in the middle of the reindex, start another one
        wait_progress(api, first, 0.15, timeout=120)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        done_before = sum(c["status"] == "succeeded" for c in children(api, book))
        assert 0 < done_before < 148
        # Bounded fan-out: the broker and the catalog hold a window, not 148 chapter jobs.
        waiting = [c for c in children(api, book) if c["status"] in ("queued", "running")]
        assert 0 < len(waiting) <= own_stack.settings.fanout_window
        own_stack.start_worker("index", name="rescuer")

        # 3. asking again answers with the running reindex (200), which the lease recovery
        # brings to its end, continuing where the killed worker stopped
        again = api.post(f"/books/{book}/reindex")
        assert again.status_code == 200 and again.json()["id"] == first, again.text
        try:
            job = succeeded(api, first, timeout=240)
        except AssertionError as stuck:
            states: dict[str, int] = {}
            for child in children(api, book):
                states[child["status"]] = states.get(child["status"], 0) + 1
            raise AssertionError(f"{stuck}; its chapter jobs: {states}") from None
        assert job["progress"] == 1.0 and job["result"]["total"] == 148
        assert job["result"]["skipped"] + job["result"]["indexed"] == 148

        # No chapter indexed twice: one set of passages per chapter, and every chapter
        # computed by exactly one child (a chapter cut off by the kill may have been redone).
        ids = memory_ids(api, own_stack, book)
        assert len(ids) == len(set(ids)) == expected_chunks
        computed: dict[str, int] = {}
        for child in children(api, book):
            if child["status"] == "succeeded" and not child["result"]["skipped"]:
                computed[child["chapter_id"]] = computed.get(child["chapter_id"], 0) + 1
        assert len(computed) == 148
        assert sum(n > 1 for n in computed.values()) <= 1, "finished chapters are not redone"

        # 4. nothing changed: the re-run skips every chapter and creates no child job
        started = time.monotonic()
        again = succeeded(api, api.post(f"/books/{book}/reindex").json()["id"], timeout=60)
        assert again["result"] == again["result"] | {"skipped": 148, "queued": 0, "indexed": 0}
        print(f"unchanged re-run: {time.monotonic() - started:.2f}s")

        # 5. cancel a forced rebuild half-way: its queued children never run, and the chapters
        # after its window were never queued at all
        forced = api.post(f"/books/{book}/reindex", json={"force": True}).json()["id"]
        wait_progress(api, forced, 0.1, timeout=120)
        assert api.post(f"/jobs/{forced}/cancel").json()["status"] == "cancelled"
        time.sleep(1.0)
        mine = [c for c in children(api, book) if c["parent_id"] == forced]
        assert {c["status"] for c in mine} <= {"succeeded", "cancelled"}
        done = sum(c["status"] == "succeeded" for c in mine)
        assert 0 < sum(c["status"] == "cancelled" for c in mine) <= own_stack.settings.fanout_window
        assert len(mine) <= done + own_stack.settings.fanout_window < 148
        assert api.get("/jobs", params={"status": "running"}).json()["total"] == 0
        assert len(memory_ids(api, own_stack, book)) == expected_chunks
