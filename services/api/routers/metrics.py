"""Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.api.deps import StateDep
from services.broker.celery_app import queue_depths
from services.core.jobs.metrics import CONTENT_TYPE, JobMetricsCollector, render_metrics
from services.core.jobs.queues import ALL_QUEUES

router = APIRouter(tags=["health"])

QUEUES = sorted(q.value for q in ALL_QUEUES)


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus text format: jobs by kind/status, job durations, queue depth and oldest queued
    job age, LLM tokens and latency."""
    collector = JobMetricsCollector(
        state.sessions, state.redis, lambda: queue_depths(state.celery, QUEUES)
    )
    return Response(render_metrics(collector), media_type=CONTENT_TYPE)
