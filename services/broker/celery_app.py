"""The Celery application: JSON only, late acks, one message at a time, the queues of
`services.core.jobs.queues`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import cast

import redis
from celery import Celery
from kombu import Queue
from kombu.exceptions import ChannelError

from services.core.config import Settings
from services.core.jobs.queues import ALL_QUEUES
from services.core.jobs.queues import Queue as JobQueue

RUN_JOB_TASK = "copiloto.run_job"


def create_celery(settings: Settings) -> Celery:
    app = Celery("copiloto", broker=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # the SQL job row is the durable result
        # A message is acked only after the task ends, and a worker killed mid-task gives the
        # message back instead of dropping it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.job_soft_time_limit_s,
        task_time_limit=settings.job_time_limit_s,
        # Redis redelivers an unacked message after this long; every task must end before it,
        # or it would run twice (the job lease catches that case too).
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        task_queues=tuple(Queue(q.value) for q in ALL_QUEUES),
        task_default_queue=JobQueue.LLM.value,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
    )
    return app


class CeleryDispatcher:
    """Sends committed jobs to the workers."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def dispatch(self, job_id: str, queue: JobQueue) -> None:
        self.app.send_task(RUN_JOB_TASK, args=[job_id], queue=JobQueue(queue).value)


def queue_depths(app: Celery, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue, asked the AMQP way (a passive declare), whatever the broker.

    Tasks retried with a countdown wait inside a worker, not in the queue, so they are not counted.
    """
    depths: dict[str, int] = {}
    with app.connection_for_read() as connection:
        for queue in queues:
            channel = connection.channel()
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:
                depths[queue] = 0  # Redis: an empty queue has no key, so it "does not exist"
            finally:
                channel.close()
    return depths


# Kombu's Redis layout: a list per queue (one more per priority step) and a hash of the
# messages workers took but have not acknowledged yet (late acks: until the task ends, and
# tasks retried with a countdown sit there while they wait).
_PRIORITY_STEPS = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_UNACKED = "unacked"
_UNACKED_INDEX = "unacked_index"  # delivery tag -> when a worker took the message


def redis_queue_depths(client: redis.Redis, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue, read straight from Redis's lists (one round trip; fails
    fast when Redis is down, unlike a broker connection that retries)."""
    names = list(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{step}")
    lengths = iter(pipe.execute())
    return {queue: sum(int(next(lengths)) for _ in _PRIORITY_STEPS) for queue in names}


def jobs_in_broker(
    client: redis.Redis,
    queues: Iterable[str],
    job_ids: set[str],
    taken_within_s: float | None = None,
) -> set[str]:
    """The ids among `job_ids` whose message Redis still holds, queued or taken by a worker.

    With `taken_within_s`, a message a worker took longer ago than that does not count: asked
    about jobs the catalog still has queued, such a message belongs to a worker that died before
    it started the job (late acks and a prefetch of one: a live worker takes a message to run
    it), and Redis would give it back only after the whole visibility timeout.

    The job id is in every message's headers (`argsrepr`) as plain text, so a substring test on
    the raw message finds it without decoding the body.
    """
    needles = {job_id: job_id.encode() for job_id in job_ids}
    found: set[str] = set()

    def scan(raw: bytes | None) -> None:
        for job_id, needle in needles.items():
            if raw is not None and job_id not in found and needle in raw:
                found.add(job_id)

    for queue in queues:
        for step in _PRIORITY_STEPS:
            for raw in cast(list[bytes], client.lrange(f"{queue}{step}", 0, -1)):
                scan(raw)
    taken: list[bytes | None]
    if taken_within_s is None:
        taken = cast(list[bytes | None], client.hvals(_UNACKED))
    else:
        tags = [t.decode() for t in cast(list[bytes], client.hkeys(_UNACKED))]
        when = cast(list[float | None], client.zmscore(_UNACKED_INDEX, tags)) if tags else []
        cutoff = time.time() - taken_within_s
        # A tag without a time is one being written right now: fresh.
        fresh = [tag for tag, at in zip(tags, when, strict=True) if at is None or at >= cutoff]
        taken = cast(list[bytes | None], client.hmget(_UNACKED, fresh)) if fresh else []
    for message in taken:
        scan(message)
    return found
