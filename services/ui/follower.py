"""Reads a job's event stream on a daemon thread, so the page never waits on the network."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from contextlib import closing

from services.ui.api_client import ApiError, JobEvent


class JobEventFollower:
    """Collects a job's events in the background; the page takes what arrived at each redraw.

    A Streamlit run that blocked on a quiet stream (a job waiting in its queue) would hold the
    page for as long as the job waits; the thread holds the connection instead.
    """

    def __init__(self, events: Callable[[], Generator[JobEvent, None, None]]) -> None:
        self._events = events
        self._queue: queue.Queue[JobEvent] = queue.Queue()
        self._stop = threading.Event()
        self.ended = threading.Event()
        self.error: ApiError | None = None
        self._thread = threading.Thread(target=self._run, name="job-events", daemon=True)

    def start(self) -> JobEventFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with closing(self._events()) as stream:
                for event in stream:
                    self._queue.put(event)
                    if self._stop.is_set() or event.event == "final":
                        return
        except ApiError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def take(self, wait_s: float) -> list[JobEvent]:
        """The events that arrived, waiting up to `wait_s` for the first one."""
        taken: list[JobEvent] = []
        try:
            taken.append(self._queue.get(timeout=wait_s))
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            return taken

    def stop(self) -> None:
        self._stop.set()
