"""Reading server-sent events (the API writes them in `services/api/sse.py`; a test checks that
this reader reads what that writer writes)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: dict[str, Any]
    id: str | None = None


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
