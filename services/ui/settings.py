"""The UI's own settings: where the API is, its token, the default language and the timeouts.

The UI is a client of the API over HTTP, nothing more: it reads the same environment names as
the server (`API_URL`, `API_TOKEN`) and `.env`, but never the server's settings object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    api_url: str = Field(default="http://127.0.0.1:8010", alias="API_URL")
    api_token: str | None = Field(default=None, alias="API_TOKEN")
    # The interface language a new browser session starts with (the sidebar switches it).
    language: Literal["pt-BR", "en"] = Field(default="pt-BR", alias="UI_LANGUAGE")
    # An ordinary request; whole book files going up or down take longer.
    request_timeout_s: float = Field(default=30.0, gt=0, alias="UI_REQUEST_TIMEOUT")
    upload_timeout_s: float = Field(default=120.0, gt=0, alias="UI_UPLOAD_TIMEOUT")
    # The API sends an SSE keep-alive at least every 15 s: a longer silence is a dead stream.
    events_read_timeout_s: float = Field(default=30.0, gt=0, alias="UI_EVENTS_READ_TIMEOUT")

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
