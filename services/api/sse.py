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


def parse_events(lines: Iterable[str], *, comments: bool = False) -> Iterator[SseEvent]:
    """Events from text lines (e.g. `httpx.Response.iter_lines()`); a blank line ends one.

    With `comments`, the server's keep-alive lines come out as `comment` events, so a reader
    can notice a quiet stream and stop.
    """
    event, data, event_id = "message", list[str](), None
    for line in lines:
        if not line:
            if data:
                yield SseEvent(event, json.loads("\n".join(data)), event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            if comments:
                yield SseEvent("comment", {"text": line[1:].strip()})
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if data:  # a stream cut before its closing blank line
        yield SseEvent(event, json.loads("\n".join(data)), event_id)
