"""The server-sent-events wire format: writing events (API) and reading them (clients, tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any]
    id: str | None = None


def format_event(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from a line iterator (e.g. `httpx.Response.iter_lines()`); comments are skipped."""
    event, data, event_id = "message", [], None
    for line in lines:
        if not line:
            if data:
                yield SseEvent(event, json.loads("\n".join(data)), event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
