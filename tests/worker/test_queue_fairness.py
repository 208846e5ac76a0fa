"""Under load the queue stays fair, on real services (API, Celery workers, Chroma, Redis):
repeated reindex requests coalesce to one pending job per chapter, an author's repeated saves
to one job that indexes the last text, and the backlog is visible in /ready and /metrics."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import Stack
from tests.job_client import succeeded
from tests.memory_support import collection_name, expected_passages
from tests.worker.test_reindex import memory_ids

WORDS = [
    "o",
    "mar",
    "levou",
    "a",
    "casa",
    "e",
    "a",
    "memória",
    "do",
    "farol",
    "voltou",
    "com",
    "as",
    "marés",
    "de",
    "inverno",
]


def chapter_text(n: int, words: int = 420) -> str:
    return " ".join(
        WORDS[(n + i) % len(WORDS)] + ("." if i % 17 == 16 else "") for i in range(words)
    )


def pending_index_jobs(api: httpx.Client, book_id: str) -> Counter[str]:
    """Queued or running index jobs per chapter, from one listing (one consistent snapshot:
    two listings, one per status, would count a job that started in between twice)."""
    page = api.get(
        "/jobs", params={"book_id": book_id, "kind": "index_chapter", "limit": 500}
    ).json()
    return Counter(j["chapter_id"] for j in page["items"] if j["status"] in ("queued", "running"))


def wait_idle(api: httpx.Client, book_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # The indexing machinery's jobs: the story bible's extraction after the saves runs on
        # the llm queue at the LLM's pace and is not what these tests measure.
        busy = sum(
            j["kind"] not in ("extract_facts", "build_bible")
            for s in ("queued", "running")
            for j in api.get(
                "/jobs", params={"book_id": book_id, "status": s, "limit": 500}
            ).json()["items"]
        )
        if not busy:
            return
        assert time.monotonic() < deadline, f"{busy} jobs of the book still pending"
        time.sleep(0.5)


def test_a_burst_of_reindex_and_vectorize_requests_coalesces(
    new_stack: Callable[..., Stack],
) -> None:
    stack = new_stack("fairness-burst")
    try:
        with stack.client() as api:
            book = api.post("/books", json={"title": "Marés", "language": "pt-BR"}).json()["id"]
            chapters = {}
            for n in range(6):
                title, text = f"Capítulo {n + 1}", chapter_text(n)
                saved = api.post(
                    "/chapter/save", json={"book_id": book, "title": title, "text": text}
                ).json()
                chapters[saved["chapter_id"]] = (title, text)

            wait_idle(api, book)  # the saves' own indexing first

            # 30 forced reindexes and 30 forced vectorize-existing at once, from 12 clients.
            def request(n: int) -> tuple[int, str]:
                with stack.client() as client:
                    if n % 2:
                        r = client.post(f"/books/{book}/reindex", json={"force": True})
                        return r.status_code, r.json()["id"]
                    r = client.post(
                        "/chroma/vectorize-existing", json={"book_id": book, "force": True}
                    )
                    return r.status_code, r.json()["jobs"][0]["id"]

            most = 0
            with ThreadPoolExecutor(12) as pool:
                futures = [pool.submit(request, n) for n in range(60)]
                while not all(f.done() for f in futures):
                    most = max(most, *pending_index_jobs(api, book).values(), 0)
                    time.sleep(0.05)
                results = [f.result() for f in futures]
            deadline = time.monotonic() + 300
            while counts := pending_index_jobs(api, book):
                most = max(most, *counts.values())
                assert time.monotonic() < deadline, "the reindex did not end"
                time.sleep(0.1)
            assert most <= 1, "at most one pending index job per chapter"
            assert {status for status, _ in results} <= {200, 202}
            wait_idle(api, book)

            answered = {job_id for _, job_id in results}
            reindexes = api.get("/jobs", params={"book_id": book, "kind": "reindex_book"}).json()
            # Every answer names a real job, and most requests were answered by a pending one
            # (a new reindex is created only once the previous one has ended).
            assert reindexes["total"] == len(answered) < 15, reindexes["total"]
            assert {j["status"] for j in reindexes["items"]} == {"succeeded"}
            index_jobs = api.get(
                "/jobs", params={"book_id": book, "kind": "index_chapter", "limit": 500}
            ).json()["items"]
            per_reindex = Counter(j["parent_id"] for j in index_jobs if j["parent_id"])
            assert set(per_reindex.values()) == {len(chapters)}, "each chapter once per reindex"

            expected = sum(expected_passages(t, x) for t, x in chapters.values())
            ids = memory_ids(api, stack, book)
            passages = [i for i in ids if ":chunk:" in i]
            assert len(passages) == len(set(passages)) == expected, "indexed once, exactly"
    finally:
        stack.stop()


def test_repeated_saves_with_the_index_worker_stopped_queue_one_job(
    new_stack: Callable[..., Stack],
) -> None:
    stack = new_stack("fairness-saves", with_worker=False)
    try:
        with stack.client() as api:
            book = api.post("/books", json={"title": "Rascunho", "language": "en"}).json()["id"]
            first = api.post(
                "/chapter/save", json={"book_id": book, "title": "Draft", "text": "Version 0."}
            ).json()
            chapter = first["chapter_id"]
            job_ids = {first["index_job_id"]}
            for n in range(1, 10):
                saved = api.put(
                    "/chapter/update",
                    json={
                        "book_id": book,
                        "chapter_id": chapter,
                        "text": f"Version {n} lighthouse.",
                    },
                )
                assert saved.status_code == 200, saved.text
                job_ids.add(saved.json()["index_job_id"])
            assert len(job_ids) == 1, "every save answers with the one pending job"
            assert pending_index_jobs(api, book) == Counter({chapter: 1})

            # The backlog is visible: /ready (still 503: no worker) and /metrics.
            time.sleep(1.1)
            ready = api.get("/ready")
            backlog: dict[str, Any] = ready.json()["backlog"]
            assert backlog["queued"] == 1
            urgent = backlog["queues"]["index_urgent"]
            assert urgent["queued"] == 1 and urgent["oldest_age_s"] >= 1.0
            assert urgent["depth"] == 1, "one message in the broker for ten saves"
            assert backlog["queues"]["index"]["queued"] == 0
            metrics = api.get("/metrics").text
            age_line = next(
                line
                for line in metrics.splitlines()
                if line.startswith('copiloto_queue_oldest_job_age_seconds{queue="index_urgent"}')
            )
            assert float(age_line.rsplit(" ", 1)[1]) >= 1.0

            # A reindex asked three times while queued: one job, widened by the forced request.
            first_reindex = api.post(f"/books/{book}/reindex", json={})
            assert first_reindex.status_code == 202
            reindex_id = first_reindex.json()["id"]
            again = api.post(f"/books/{book}/reindex", json={})
            assert (again.status_code, again.json()["id"]) == (200, reindex_id)
            forced = api.post(f"/books/{book}/reindex", json={"force": True})
            assert (forced.status_code, forced.json()["id"]) == (200, reindex_id)
            assert forced.json()["params"]["force"] is True

            stack.start_worker("index")
            job = succeeded(api, job_ids.pop(), timeout=180)
            assert job["result"]["chunks"] >= 1
            name = collection_name(api, book)
            docs = api.get(f"/chroma/collection/{name}").json()["items"]
            texts = [d["text"] for d in docs if ":chunk:" in d["id"]]
            assert texts and all("Version 9 lighthouse" in t for t in texts), texts
            succeeded(api, reindex_id, timeout=180)
            index_jobs = api.get("/jobs", params={"book_id": book, "kind": "index_chapter"})
            assert index_jobs.json()["total"] <= 2, "the saves' job, and at most the reindex's"
    finally:
        stack.stop()
