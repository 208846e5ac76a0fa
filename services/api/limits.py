"""Request body size limit, enforced before a large body is read into memory."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = re.compile(r"^/books/[^/]+(/bible)?/import$")
# Book archives (a whole book with every revision) have their own limit, MAX_ARCHIVE_BYTES.
RESTORE_PATH = re.compile(r"^/books/restore$")


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """`overrides`: (path pattern, limit, setting name) for endpoints with their own limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        overrides: list[tuple[re.Pattern[str], int, str]] | None = None,
    ) -> None:
        self.app = app
        self.default = (max_bytes, "MAX_BODY_BYTES")
        self.overrides = overrides or []

    def _limit(self, path: str) -> tuple[int, str]:
        for pattern, limit, name in self.overrides:
            if pattern.match(path):
                return limit, name
        return self.default

    async def _reject(self, send: Send, limit: tuple[int, str]) -> None:
        body = json.dumps(
            {"detail": f"request body larger than {limit[0]:,} bytes ({limit[1]})"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit[0]:
                await self._reject(send, limit)
                return
        received = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit[0]:
                    exceeded = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The app may catch _TooLarge while parsing (FastAPI answers 400 "error parsing
                # the body"): whatever it answers, the client gets the 413 that says why.
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._reject(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)
