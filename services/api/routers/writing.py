"""The original synchronous endpoints, kept as thin shims that create jobs.

Each answers 202 with the queued job, or 200 with the finished job (result inline) when called
with `?wait=<seconds>` and the job ends in time.
"""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model, model_validator

from services.api.deps import BookId, JobSubmission, StateDep
from services.api.state import AppState
from services.core.chapters import service as chapters
from services.core.chapters.schemas import BookMetadataOut
from services.core.db import transaction
from services.core.ids import ID_PATTERN
from services.core.jobs.events import decode_event, stream_key
from services.core.jobs.kinds import JOB_KINDS
from services.core.jobs.schemas import TERMINAL_STATUSES, JobCreate, JobOut
from services.core.jobs.service import get_job, job_snapshot

router = APIRouter(tags=["writing (original API)"])

# path → job kind, as in the original design
SHIMS = {
    "/suggest": "suggest",
    "/critique": "critique",
    "/ask": "ask",
    "/ideate": "ideate",
    "/expand": "expand",
    "/metadata/extract": "extract_metadata",
}
MAX_WAIT_S = 120.0


class ShimJobOut(JobOut):
    job_id: str = Field(description="The job's id again, as the original API named it")


def wait_for_final(state: AppState, job_id: str, wait_s: float) -> dict[str, Any]:
    """Block on the job's event stream until its final event or the deadline."""
    deadline = time.monotonic() + wait_s
    cursor = "0-0"
    key = stream_key(job_id)
    final = False
    while not final and (remaining := deadline - time.monotonic()) > 0:
        # Short blocks: the client's socket timeout (5 s) must not fire during a long wait.
        block_ms = max(1, int(min(remaining, 3.0) * 1000))
        batch = cast(list[Any], state.redis.xread({key: cursor}, count=500, block=block_ms))
        for _, entries in batch or []:
            for entry_id, fields in entries:
                cursor = entry_id
                final = final or decode_event(fields).get("type") == "final"
    with transaction(state.sessions) as session:
        return job_snapshot(get_job(session, job_id))


def _request_model(kind: str) -> type[BaseModel]:
    spec = JOB_KINDS[kind]
    stand_in = spec.chapter_or_param
    chapter_field: Any = (
        (str, Field(pattern=ID_PATTERN, max_length=64))
        if spec.needs_chapter and not stand_in
        else (str | None, Field(default=None, pattern=ID_PATTERN, max_length=64))
    )
    validators: dict[str, Any] = {}
    if spec.needs_chapter and stand_in:

        def chapter_or_stand_in(body: BaseModel) -> BaseModel:
            if getattr(body, "chapter_id", None) is None and getattr(body, stand_in) is None:
                raise ValueError(f"send a chapter_id (a saved chapter) or the {stand_in}")
            return body

        validators["_chapter_or_stand_in"] = model_validator(mode="after")(chapter_or_stand_in)
    return create_model(
        f"{kind.title().replace('_', '')}Request",
        __base__=spec.params,
        __validators__=validators,
        book_id=(str, Field(pattern=ID_PATTERN, max_length=64)),
        chapter_id=chapter_field,
    )


def _add_shim(path: str, kind: str) -> None:
    body_model = _request_model(kind)

    def endpoint(
        body: body_model,  # type: ignore[valid-type]
        state: StateDep,
        wait: float = Query(0, ge=0, le=MAX_WAIT_S, description="Seconds to wait for the result"),
    ) -> JSONResponse:
        fields = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        book_id, chapter_id = fields.pop("book_id"), fields.pop("chapter_id", None)
        request = JobCreate(kind=kind, book_id=book_id, chapter_id=chapter_id, params=fields)
        snapshot, _ = state.jobs.submit(request)
        if wait > 0:
            snapshot = {**wait_for_final(state, snapshot["id"], wait), "job_id": snapshot["id"]}
        done = snapshot["status"] in TERMINAL_STATUSES
        return JSONResponse(snapshot, status_code=200 if done else 202)

    # The body type is built at run time: give FastAPI the class, not the postponed name.
    endpoint.__annotations__["body"] = body_model
    endpoint.__doc__ = f"Create a `{kind}` job (original API); `?wait=` returns the result inline."
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        name=f"shim_{kind}",
        status_code=202,
        response_model=ShimJobOut,
        responses={200: {"model": ShimJobOut, "description": "`?wait=`: the job ended in time"}},
        dependencies=[JobSubmission],
    )


for _path, _kind in SHIMS.items():
    if _kind in JOB_KINDS:
        _add_shim(_path, _kind)


@router.get("/metadata/book/{book_id}")
def book_metadata(book_id: BookId, state: StateDep) -> BookMetadataOut:
    """Each chapter's extracted metadata and summary, in reading order."""
    with transaction(state.sessions) as session:
        return chapters.book_metadata(session, book_id)
