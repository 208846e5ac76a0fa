"""FastAPI dependencies: the app state, the settings, bearer-token auth, id path parameters."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status

from services.api.state import AppState
from services.core.config import Settings
from services.core.ids import ID_PATTERN


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.copiloto
    return state


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_token(request: Request, settings: SettingsDep) -> None:
    if not settings.api_token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token, settings.api_token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send 'Authorization: Bearer <API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def limit_job_submissions(request: Request, state: StateDep) -> None:
    """429 with Retry-After once a client submitted RATE_LIMIT_JOBS_PER_MINUTE jobs in a minute."""
    # A client is its address plus the credential it presents (a token reached here only if
    # it was valid): users behind one proxy or NAT with their own tokens get their own buckets.
    address = request.client.host if request.client else "unknown"
    credential = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
    decision = state.job_limiter.take(f"{address}:{credential[:16]}")
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many jobs submitted: at most {state.settings.rate_limit_jobs_per_minute} "
            f"a minute (RATE_LIMIT_JOBS_PER_MINUTE); retry in {decision.retry_after_s} s",
            headers={"Retry-After": str(decision.retry_after_s)},
        )


JobSubmission = Depends(limit_job_submissions)

_ID_DOC = "Server-made id: lower-case letters, digits and '-'"
BookId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
ChapterId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
JobId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description="Job uuid")]
ArtifactId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
