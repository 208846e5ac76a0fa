"""The broker queues, and which of them each kind of worker consumes."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    # Interactive generation: a thread pool whose size matches what the LLM server batches.
    LLM = "llm"
    # Bulk indexing (whole-book reindex, import, vectorize-existing): CPU-bound, processes.
    INDEX = "index"
    # Indexing an author waits for (a save, an update, a restore, a scene saved by expand): the
    # index workers consume it too, listed first, so it never waits behind a bulk backlog —
    # at most behind the chapter each index worker is indexing at that moment.
    INDEX_URGENT = "index_urgent"


# What each kind of worker (`copiloto worker --queue …`, the compose services) consumes, in the
# order it asks the broker for messages.
WORKER_QUEUES: dict[str, tuple[Queue, ...]] = {
    "llm": (Queue.LLM,),
    "index": (Queue.INDEX_URGENT, Queue.INDEX),
}
ALL_QUEUES: tuple[Queue, ...] = tuple(Queue)
