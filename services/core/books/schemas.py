"""Request and response shapes for books."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.core.db import UtcDatetime

SUPPORTED_LANGUAGES = ("pt-BR", "en")


class BookCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    language: str = Field(default="pt-BR", description="Book language: pt-BR or en")
    genre: str | None = Field(default=None, max_length=120)
    synopsis: str | None = Field(default=None, max_length=20_000)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value.strip()

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        for lang in SUPPORTED_LANGUAGES:
            if value.lower() == lang.lower():
                return lang
        if value.lower() in ("pt", "pt-br", "pt_br"):
            return "pt-BR"
        raise ValueError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")


class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    language: str
    genre: str | None
    synopsis: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
