"""Request and response shapes of the story bible."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.core.ids import ID_PATTERN

EntityKind = Literal["character", "place", "object", "group"]
Origin = Literal["extracted", "author"]
EntityName = Annotated[str, Field(min_length=1, max_length=200)]
AttributeName = Annotated[str, Field(min_length=1, max_length=60)]
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("must not be blank")
    if any(ord(c) < 32 for c in value if c not in "\t\n\r"):
        raise ValueError("must not contain control characters")
    return cleaned


def _clean_names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [" ".join(v.split()) for v in values if _clean_name(v)]


class EntityOut(BaseModel):
    id: str
    kind: str
    name: str
    aliases: list[str]
    origin: str
    mentions: int
    chapters: list[str] = Field(description="Chapters where it appears, in book order")
    facts: int = Field(description="How many facts it has")


class FactOut(BaseModel):
    id: str
    entity_id: str
    attribute: str
    value: str
    chapter_id: str
    chapter_position: int
    chapter_title: str
    revision: int = Field(description="The chapter revision the quote's offsets refer to")
    until_chapter_id: str | None = Field(
        description="The chapter where a later fact of the same attribute replaces it"
    )
    story_time: str | None
    quote: str
    start: int
    end: int
    origin: str
    pinned: bool
    intentional: bool


class EntityDetail(BaseModel):
    id: str
    kind: str
    name: str
    aliases: list[str]
    origin: str
    mentions: int
    chapters: list[str]
    facts: list[FactOut]


class EntityPage(BaseModel):
    items: list[EntityOut]
    total: int


class EntityState(BaseModel):
    entity: EntityOut
    facts: list[FactOut]


class StateOut(BaseModel):
    as_of_chapter: str
    entities: list[EntityState]


class PresenceChapter(BaseModel):
    id: str
    title: str
    position: int
    words: int


class PresenceEntity(BaseModel):
    id: str
    name: str
    kind: str
    counts: list[int] = Field(description="Mentions per chapter, in the order of `chapters`")


class PresenceOut(BaseModel):
    chapters: list[PresenceChapter]
    entities: list[PresenceEntity]


class EntityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EntityKind
    name: EntityName
    aliases: list[EntityName] = Field(default_factory=list, max_length=50)

    _names = field_validator("name")(_clean_name)
    _aliases = field_validator("aliases")(_clean_names)


class EntityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: EntityName | None = None
    kind: EntityKind | None = None
    aliases: list[EntityName] | None = Field(default=None, max_length=50)

    _names = field_validator("name")(_clean_name)
    _aliases = field_validator("aliases")(_clean_names)


class EntityMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_ids: list[Id] = Field(min_length=1, max_length=50, description="Entities merged in")


class EntitySplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aliases: list[EntityName] = Field(
        min_length=1, max_length=50, description="Names that move to the new entity"
    )
    name: EntityName | None = Field(
        default=None, description="The new entity's name (default: the first alias)"
    )
    kind: EntityKind | None = None

    _names = field_validator("name")(_clean_name)
    _aliases = field_validator("aliases")(_clean_names)


class FactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_id: Id
    attribute: AttributeName
    value: Annotated[str, Field(min_length=1, max_length=500)]
    chapter_id: Id
    quote: Annotated[str, Field(min_length=1, max_length=5000)]
    story_time: Annotated[str, Field(max_length=120)] | None = None

    _attribute = field_validator("attribute", "value", "story_time")(_clean_name)


class FactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    attribute: AttributeName | None = None
    pinned: bool | None = None
    intentional: bool | None = None

    _attribute = field_validator("attribute", "value")(_clean_name)
