"""Prometheus metrics of the job system, built at scrape time from what every host shares.

Where each number lives, so that any API replica answers the same and nothing is lost when a
worker or an API process restarts:

* Jobs by kind and status, and job durations: read from the catalog (the `job` table) at each
  scrape. The catalog is the durable truth and sees every way a job ends — a worker finishing
  it, a cancel through the API, the last child of a fan-out finishing its parent — which
  in-process counters in separate worker processes on separate hosts could not. Cost per scrape:
  one grouped COUNT over indexed columns and one scan of four small columns of the ended jobs.
* Queue depth: the length of the broker's queue lists in Redis, read at scrape time (the broker's
  key layout is given by the caller, which knows the broker).
* Backlog: jobs waiting for a worker per queue and the age of the oldest, from the catalog (a
  growing age is the signal to alert on: the queue is not keeping up).
* LLM tokens and latency: the receipts of finished jobs sit inside their result JSON, too costly
  to parse at every scrape, so the worker whose fenced finish succeeded adds them, once per job,
  to counters in one Redis hash (`LLM_USAGE_KEY`; Redis runs with AOF in production). Jobs that
  failed spent tokens that are not counted.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from services.core.db import transaction
from services.core.jobs.repository import JobRepository
from services.core.jobs.service import backlog

log = logging.getLogger(__name__)

LLM_USAGE_KEY = "copiloto:metrics:llm"
# generate_latest() writes the classic text format, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Upper bounds in seconds (the last bucket, +Inf, is implied).
JOB_DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
LLM_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_SEP = "|"


def _bucket_index(bounds: Sequence[float], value: float) -> int:
    """Index of the first bucket whose bound holds `value`; len(bounds) for +Inf."""
    return next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))


def _cumulative(counts: Mapping[int, float], bounds: Sequence[float]) -> list[tuple[str, float]]:
    running = 0.0
    out = []
    for i, bound in enumerate([*bounds, math.inf]):
        running += counts.get(i, 0)
        out.append(("+Inf" if bound == math.inf else repr(float(bound)), running))
    return out


def record_llm_usage(client: redis.Redis, kind: str, receipt: Any) -> None:
    """Add one finished job's LLM receipt to the shared counters; never fails the job."""
    if not isinstance(receipt, dict) or receipt.get("completion_tokens") is None:
        return  # no LLM call (e.g. a scene reused from an earlier attempt)
    fields: dict[str, float] = {
        "prompt_tokens": float(receipt.get("prompt_tokens") or 0),
        "completion_tokens": float(receipt.get("completion_tokens") or 0),
        "requests": 1.0,
    }
    duration = receipt.get("duration_s")
    if isinstance(duration, int | float):
        fields["duration_sum"] = float(duration)
        fields[f"duration_bucket{_SEP}{_bucket_index(LLM_LATENCY_BUCKETS, duration)}"] = 1.0
    ttft = receipt.get("time_to_first_token_s")
    if isinstance(ttft, int | float):
        fields["ttft_sum"] = float(ttft)
        fields["ttft_count"] = 1.0
        fields[f"ttft_bucket{_SEP}{_bucket_index(LLM_LATENCY_BUCKETS, ttft)}"] = 1.0
    try:
        pipe = client.pipeline(transaction=True)
        for name, amount in fields.items():
            pipe.hincrbyfloat(LLM_USAGE_KEY, f"{kind}{_SEP}{name}", amount)
        pipe.execute()
    except redis.RedisError:
        log.warning("could not count the LLM usage of a %s job", kind, exc_info=True)


class JobMetricsCollector(Collector):
    """Collects the families at scrape time (see the module docstring for where each lives)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        redis_client: redis.Redis,
        queue_depths: Callable[[], Mapping[str, int]],
    ) -> None:
        self.sessions = sessions
        self.redis = redis_client
        self.queue_depths = queue_depths

    def collect(self) -> Iterator[Metric]:
        with transaction(self.sessions) as session:
            repo = JobRepository(session)
            counts = repo.counts_by_kind_and_status()
            durations = repo.ended_durations()
            waiting = backlog(session)
        yield self._jobs(counts)
        yield self._durations(durations)
        oldest = GaugeMetricFamily(
            "copiloto_queue_oldest_job_age_seconds",
            "Seconds the oldest job waiting for a worker has waited, per queue (0: none waits)",
            labels=["queue"],
        )
        queued = GaugeMetricFamily(
            "copiloto_queued_jobs", "Jobs waiting for a worker, per queue", labels=["queue"]
        )
        for queue, entry in waiting.queues.items():
            oldest.add_metric([queue], entry.oldest_age_s or 0.0)
            queued.add_metric([queue], entry.queued)
        yield oldest
        yield queued
        depth = GaugeMetricFamily(
            "copiloto_queue_depth", "Messages waiting in each broker queue", labels=["queue"]
        )
        for queue, n in sorted(self.queue_depths().items()):
            depth.add_metric([queue], n)
        yield depth
        yield from self._llm(cast(dict[bytes, bytes], self.redis.hgetall(LLM_USAGE_KEY)))

    @staticmethod
    def _jobs(counts: Iterable[tuple[str, str, int]]) -> Metric:
        family = GaugeMetricFamily(
            "copiloto_jobs", "Jobs in the catalog by kind and status", labels=["kind", "status"]
        )
        for kind, status, n in sorted(counts):
            family.add_metric([kind, status], n)
        return family

    @staticmethod
    def _durations(durations: Iterable[tuple[str, str, float]]) -> Metric:
        buckets: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
        sums: dict[tuple[str, str], float] = defaultdict(float)
        for kind, status, seconds in durations:
            buckets[(kind, status)][_bucket_index(JOB_DURATION_BUCKETS, seconds)] += 1
            sums[(kind, status)] += seconds
        family = HistogramMetricFamily(
            "copiloto_job_duration_seconds",
            "Time from a job's start to its end, by kind and final status",
            labels=["kind", "status"],
        )
        for key in sorted(buckets):
            family.add_metric(
                list(key), _cumulative(buckets[key], JOB_DURATION_BUCKETS), sum_value=sums[key]
            )
        return family

    @staticmethod
    def _llm(raw: Mapping[bytes, bytes]) -> Iterator[Metric]:
        by_kind: dict[str, dict[str, float]] = defaultdict(dict)
        for field, value in raw.items():
            kind, _, name = field.decode().partition(_SEP)
            by_kind[kind][name] = float(value)
        tokens = CounterMetricFamily(
            "copiloto_llm_tokens",
            "LLM tokens spent by succeeded jobs, by job kind and token type",
            labels=["kind", "type"],
        )
        latency = HistogramMetricFamily(
            "copiloto_llm_request_duration_seconds",
            "Duration of a succeeded job's LLM generation, by job kind",
            labels=["kind"],
        )
        first_token = HistogramMetricFamily(
            "copiloto_llm_time_to_first_token_seconds",
            "Time to the first streamed token of a succeeded job's generation, by job kind",
            labels=["kind"],
        )
        for kind in sorted(by_kind):
            values = by_kind[kind]
            for kind_of_token in ("prompt", "completion"):
                tokens.add_metric([kind, kind_of_token], values.get(f"{kind_of_token}_tokens", 0))
            for family, prefix in ((latency, "duration"), (first_token, "ttft")):
                counts = {
                    int(name.rpartition(_SEP)[2]): n
                    for name, n in values.items()
                    if name.startswith(f"{prefix}_bucket{_SEP}")
                }
                if counts:
                    family.add_metric(
                        [kind],
                        _cumulative(counts, LLM_LATENCY_BUCKETS),
                        sum_value=values.get(f"{prefix}_sum", 0.0),
                    )
        yield tokens
        yield latency
        yield first_token


def render_metrics(collector: JobMetricsCollector) -> bytes:
    """The Prometheus text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
