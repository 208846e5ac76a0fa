"""FastAPI dependencies: the app state, the settings, bearer-token auth, id path parameters."""

from __future__ import annotations

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


_ID_DOC = "Server-made id: lower-case letters, digits and '-'"
BookId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
ChapterId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
JobId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description="Job uuid")]
ArtifactId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
