"""What the recovery scan reads of Kombu's Redis layout: which queued jobs still have a message."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from services.broker.celery_app import CeleryDispatcher, create_celery, jobs_in_broker
from services.core.config import Settings
from services.core.jobs.queues import Queue
from tests.conftest import claim_redis_db, release_redis_db


@pytest.fixture()
def redis_url(redis_base: str) -> Iterator[str]:
    url = claim_redis_db(redis_base)
    yield url
    release_redis_db(url)


def test_a_message_taken_by_a_worker_that_died_counts_as_lost_after_a_while(
    redis_url: str,
) -> None:
    app = create_celery(Settings(_env_file=None, REDIS_URL=redis_url))  # type: ignore[call-arg]
    waiting, taken, never_sent = (str(uuid.uuid4()) for _ in range(3))
    dispatcher = CeleryDispatcher(app)
    dispatcher.dispatch(taken, Queue.INDEX)
    dispatcher.dispatch(waiting, Queue.INDEX)
    # A worker takes the first message (late acks: it stays in Redis until acked) and is killed
    # before it acks: nothing gives the message back, as after a kill -9.
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        message = channel.basic_get(Queue.INDEX.value, no_ack=False)
        assert message is not None and taken.encode() in message.body
        channel.qos.restore_at_shutdown = False
    client = redis.Redis.from_url(redis_url)
    queues = [Queue.INDEX.value]
    everything = {waiting, taken, never_sent}
    assert jobs_in_broker(client, queues, everything) == {waiting, taken}
    assert jobs_in_broker(client, queues, everything, taken_within_s=60) == {waiting, taken}
    time.sleep(1.2)
    # Taken more than a second ago and still not started: no longer counts as held.
    assert jobs_in_broker(client, queues, everything, taken_within_s=1) == {waiting}
