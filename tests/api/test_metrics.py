"""GET /metrics against a real stack whose workers start late, so queued work is visible; and
the JSON log lines of that stack's worker, each carrying the job id."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack
from tests.job_client import submit, succeeded


@pytest.fixture(scope="module")
def late_stack(new_stack: Callable[..., Stack]) -> Iterator[Stack]:
    """Its own catalog and Redis database, JSON logs, and no worker until a test starts one."""
    stack = new_stack("metrics", extra_env={"LOG_FORMAT": "json"}, with_worker=False)
    yield stack
    stack.stop()


def scrape(api: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float | None:
    return metrics.get((name, tuple(sorted(labels.items()))))


def buckets(metrics: dict[Any, float], name: str, **labels: str) -> list[float]:
    found = [
        (float(dict(key[1])["le"]), n)
        for key, n in metrics.items()
        if key[0] == f"{name}_bucket" and {k: v for k, v in key[1] if k != "le"} == labels
    ]
    return [n for _, n in sorted(found)]


def test_metrics_follow_jobs_from_queue_to_end(late_stack: Stack) -> None:
    with late_stack.client() as api:
        book = api.post("/books", json={"title": "Métricas", "language": "pt-BR"}).json()
        saved = api.post(
            "/chapter/save",
            json={"book_id": book["id"], "title": "Um", "text": "Ana esperou o trem na chuva."},
        ).json()
        job_id = submit(api, "suggest", book["id"], saved["chapter_id"], max_tokens=24)

        before = scrape(api)
        assert value(before, "copiloto_jobs", kind="suggest", status="queued") == 1
        assert value(before, "copiloto_jobs", kind="index_chapter", status="queued") == 1
        assert value(before, "copiloto_queue_depth", queue="llm") == 1
        # An author's save is indexed on the urgent index queue, ahead of bulk work.
        assert value(before, "copiloto_queue_depth", queue="index_urgent") == 1
        assert value(before, "copiloto_queue_depth", queue="index") == 0
        assert value(before, "copiloto_queued_jobs", queue="index_urgent") == 1
        assert value(before, "copiloto_queue_oldest_job_age_seconds", queue="index_urgent") >= 0
        assert not [k for k in before if k[0].startswith("copiloto_job_duration_seconds")]
        assert not [k for k in before if k[0].startswith("copiloto_llm_tokens")]

        # Only the `llm` queue gets a worker: the indexing job stays queued, on its own queue.
        late_stack.start_worker("llm")
        job = succeeded(api, job_id, timeout=180)
        receipt = job["result"]["receipt"]
        assert receipt["completion_tokens"] > 0

        after = scrape(api)
        assert value(after, "copiloto_jobs", kind="suggest", status="succeeded") == 1
        assert value(after, "copiloto_jobs", kind="suggest", status="queued") is None
        assert value(after, "copiloto_queue_depth", queue="llm") == 0
        assert value(after, "copiloto_queue_depth", queue="index_urgent") == 1
        assert value(after, "copiloto_queued_jobs", queue="llm") == 0
        assert value(after, "copiloto_queue_oldest_job_age_seconds", queue="llm") == 0
        assert value(after, "copiloto_queue_oldest_job_age_seconds", queue="index_urgent") > 0
        assert value(after, "copiloto_jobs", kind="index_chapter", status="queued") == 1

        done = {"kind": "suggest", "status": "succeeded"}
        assert value(after, "copiloto_job_duration_seconds_count", **done) == 1
        assert value(after, "copiloto_job_duration_seconds_sum", **done) == pytest.approx(
            job["duration_s"], abs=0.01
        )
        cumulative = buckets(after, "copiloto_job_duration_seconds", **done)
        assert cumulative == sorted(cumulative) and cumulative[-1] == 1

        suggest = {"kind": "suggest"}
        tokens = "copiloto_llm_tokens_total"
        assert value(after, tokens, **suggest, type="prompt") == receipt["prompt_tokens"]
        assert value(after, tokens, **suggest, type="completion") == receipt["completion_tokens"]
        latency = "copiloto_llm_request_duration_seconds"
        assert value(after, f"{latency}_count", **suggest) == 1
        assert value(after, f"{latency}_sum", **suggest) == pytest.approx(receipt["duration_s"])
        assert buckets(after, "copiloto_llm_time_to_first_token_seconds", **suggest)[-1] == 1


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_worker_logs_are_json_with_the_job_id(late_stack: Stack, logs_dir: Path) -> None:
    if "llm" not in late_stack.workers:
        late_stack.start_worker("llm")
    with late_stack.client() as api:
        book = api.post("/books", json={"title": "Logs", "language": "en"}).json()
        saved = api.post(
            "/chapter/save", json={"book_id": book["id"], "title": "One", "text": "Rain fell."}
        ).json()
        job_id = submit(api, "suggest", book["id"], saved["chapter_id"], max_tokens=16)
        succeeded(api, job_id, timeout=180)
    log_file = logs_dir / late_stack.data_dir.parent.name / "worker-llm.log"
    lines = json_lines(log_file)
    assert lines, log_file.read_text(encoding="utf-8")[-2000:]
    for line in lines:
        assert {"ts", "level", "logger", "message", "job_id"} <= set(line), line
    # Every line that speaks of the job carries its id, Celery's own lines about its task too.
    about_job = [line for line in lines if job_id in line["message"]]
    assert len(about_job) >= 2 and all(line["job_id"] == job_id for line in about_job)
    of_job = [line for line in lines if line["job_id"] == job_id]
    assert any(
        line["logger"].startswith("celery") and "succeeded" in line["message"] for line in of_job
    )
    # Lines outside any job have none.
    assert any(line["job_id"] is None for line in lines)
