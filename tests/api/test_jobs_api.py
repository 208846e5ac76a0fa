"""The job lifecycle through the real API, Redis, a Celery worker and the real small LLM."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.api.sse import SseEvent
from tests.conftest import Stack
from tests.job_client import finished, follow


def submit(api: httpx.Client, chapter: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = api.post(
        "/jobs",
        json={
            "kind": "suggest",
            "book_id": chapter["book_id"],
            "chapter_id": chapter["chapter_id"],
            "params": params,
        },
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "queued" and body["job_id"] == body["id"]
    return body


def test_suggest_round_trip_streams_progress_then_final(
    api: httpx.Client, stack: Stack, chapter: dict[str, Any]
) -> None:
    job = submit(api, chapter, max_tokens=48)
    events = follow(api, job["id"])
    kinds = [e.event for e in events]
    assert kinds[0] == "status" and kinds[-1] == "final"
    # A `reset` tells clients to drop what streamed before it (a retry, or the tidied answer).
    last_reset = max((i for i, e in enumerate(events) if e.event == "reset"), default=-1)
    deltas = [e.data["text"] for e in events[last_reset + 1 :] if e.event == "delta"]
    assert deltas, "the generation must stream text deltas"
    progress = [e.data["progress"] for e in events if e.event == "progress"]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    assert kinds.index("delta") < kinds.index("final")
    final = events[-1].data
    assert final["status"] == "succeeded" and final["progress"] == 1.0
    result = final["result"]
    assert result["text"] == "".join(deltas) and result["text"].strip()
    assert result["finish_reason"] in ("stop", "length")
    assert result["receipt"]["completion_tokens"] > 0 and result["receipt"]["model"]
    stored = api.get(f"/jobs/{job['id']}").json()
    assert stored["status"] == "succeeded" and stored["duration_s"] > 0
    artifact = api.get(f"/artifacts/{result['artifact_id']}").json()
    assert artifact["text"] == result["text"] and artifact["kind"] == "suggestion"
    mirror = stack.data_dir / "chapters" / result["file"]
    assert result["file"].startswith("sugest_a-partida__")
    assert mirror.read_text(encoding="utf-8").strip() == result["text"].strip()
    # A late client replays the whole stream, and resumes after Last-Event-ID.
    # The replay is the same stream, resets included (a tidied answer resets once, late).
    replay = follow(api, job["id"])
    assert streamed(replay) == streamed(events)
    middle = next(e for e in events if e.event == "delta" and e.id)
    resumed = follow(api, job["id"], {"Last-Event-ID": str(middle.id)})
    assert 0 < len(streamed(resumed)) < len(streamed(events))


def streamed(events: list[SseEvent]) -> list[tuple[str, str]]:
    """The text a client renders from a stream: each delta and each reset, in order."""
    return [
        (e.event, e.data.get("text") or e.data.get("message") or "")
        for e in events
        if e.event in ("delta", "reset")
    ]


def test_idempotency_key_returns_the_same_job(api: httpx.Client, chapter: dict[str, Any]) -> None:
    key = f"k-{uuid.uuid4()}"
    body = {
        "kind": "suggest",
        "book_id": chapter["book_id"],
        "chapter_id": chapter["chapter_id"],
        "params": {"max_tokens": 16},
    }
    first = api.post("/jobs", json=body, headers={"Idempotency-Key": key})
    second = api.post("/jobs", json=body, headers={"Idempotency-Key": key})
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    finished(api, first.json()["id"])
    listed = api.get("/jobs", params={"book_id": chapter["book_id"]}).json()
    assert [j["id"] for j in listed["items"]].count(first.json()["id"]) == 1


def test_cancel_stops_a_running_job(api: httpx.Client, chapter: dict[str, Any]) -> None:
    job = submit(api, chapter, max_tokens=2000, instructions="Escreva muito, sem parar.")
    deadline = time.monotonic() + 30
    while api.get(f"/jobs/{job['id']}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = api.post(f"/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    events = follow(api, job["id"])
    assert events[-1].event == "final" and events[-1].data["status"] == "cancelled"
    time.sleep(2.5)  # longer than a heartbeat: the worker has noticed and stopped
    after = api.get(f"/jobs/{job['id']}").json()
    assert after["status"] == "cancelled" and after["result"] is None
    assert api.get("/artifacts", params={"chapter_id": chapter["chapter_id"]}).json() == []
    again = api.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_job_errors_are_4xx_with_messages(api: httpx.Client, chapter: dict[str, Any]) -> None:
    unknown = api.post("/jobs", json={"kind": "dance", "book_id": chapter["book_id"]})
    assert unknown.status_code == 422
    detail = unknown.json()["detail"]
    assert "valid kinds:" in detail and all(k in detail for k in ("suggest", "ask", "ideate"))
    no_chapter = api.post("/jobs", json={"kind": "suggest", "book_id": chapter["book_id"]})
    assert no_chapter.status_code == 422 and "chapter_id" in no_chapter.json()["detail"]
    bad_params = api.post(
        "/jobs",
        json={
            "kind": "suggest",
            "book_id": chapter["book_id"],
            "chapter_id": chapter["chapter_id"],
            "params": {"max_tokens": 10**9, "colour": "red"},
        },
    )
    assert bad_params.status_code == 422
    assert "max_tokens" in bad_params.json()["detail"] and "colour" in bad_params.json()["detail"]
    missing = str(uuid.uuid4())
    for method, path in (
        ("GET", f"/jobs/{missing}"),
        ("POST", f"/jobs/{missing}/cancel"),
        ("GET", f"/jobs/{missing}/events"),
    ):
        response = api.request(method, path)
        assert response.status_code == 404 and missing in response.json()["detail"]
    assert api.get("/jobs", params={"status": "exploded"}).status_code == 422
    assert api.get("/jobs", params={"limit": 0}).status_code == 422


def test_list_jobs_filters_and_pages(api: httpx.Client, chapter: dict[str, Any]) -> None:
    ids = [submit(api, chapter, max_tokens=16)["id"] for _ in range(3)]
    for job_id in ids:
        finished(api, job_id)
    mine = {"book_id": chapter["book_id"], "kind": "suggest"}
    page = api.get("/jobs", params={**mine, "limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = api.get("/jobs", params={**mine, "limit": 2, "offset": 2}).json()
    assert {j["id"] for j in page["items"] + rest["items"]} == set(ids)
    done = api.get("/jobs", params={**mine, "status": "succeeded"}).json()
    assert done["total"] == 3
    indexing = api.get("/jobs", params={"book_id": chapter["book_id"], "kind": "index_chapter"})
    assert indexing.json()["total"] == 1, "saving the chapter queued its indexing"


def test_health_ready_and_llm_probe(api: httpx.Client) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {name: c["state"] for name, c in checks.items()} == {
        "database": "up",
        "redis": "up",
        "worker": "up",
        "llm": "up",
        "chroma": "up",
    }
    probe = api.post("/test-llm", json={"prompt": "Say hello.", "max_tokens": 8})
    assert probe.status_code == 200 and probe.json()["ok"] and probe.json()["text"]


@pytest.fixture()
def secured(stack: Stack) -> Iterator[str]:
    url = stack.start_api("api-secured", API_TOKEN="t0ken")
    yield url
    proc = stack.group.children[-1][1]
    proc.terminate()
    proc.wait(10)


def test_api_token_guards_everything_but_health(secured: str) -> None:
    with httpx.Client(base_url=secured, timeout=10) as client:
        assert client.get("/health").status_code == 200
        denied = client.get("/books")
        assert denied.status_code == 401 and "API token" in denied.json()["detail"]
        assert client.get("/books", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/books", headers={"Authorization": "Bearer t0ken"}).status_code == 200
