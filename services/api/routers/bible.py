"""The story bible of a book: entities, facts with their quotes, state as of a chapter, edits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.api.deps import BookId, StateDep
from services.core.bible import service
from services.core.bible.schemas import (
    EntityCreate,
    EntityDetail,
    EntityKind,
    EntityMerge,
    EntityPage,
    EntitySplit,
    EntityUpdate,
    FactCreate,
    FactOut,
    FactUpdate,
    PresenceOut,
    StateOut,
)
from services.core.db import transaction
from services.core.ids import ID_PATTERN

router = APIRouter(prefix="/books/{book_id}/bible", tags=["bible"])

_ID_DOC = "Server-made id: lower-case letters, digits and '-'"
EntityId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
FactId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64, description=_ID_DOC)]
AsOf = Query(
    None, pattern=ID_PATTERN, max_length=64, description="Only chapters up to this one count"
)


@router.get("/entities")
def list_entities(
    book_id: BookId,
    state: StateDep,
    kind: Annotated[EntityKind | None, Query(description="Only entities of this kind")] = None,
    q: str | None = Query(None, max_length=200, description="Part of a name or alias"),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> EntityPage:
    """The book's entities, most mentioned first."""
    with transaction(state.sessions) as session:
        return service.list_entities(session, book_id, kind=kind, q=q, limit=limit, offset=offset)


@router.post("/entities", status_code=201)
def create_entity(book_id: BookId, body: EntityCreate, state: StateDep) -> EntityDetail:
    """Add an entity by hand."""
    with transaction(state.sessions) as session:
        return service.create_entity(session, book_id, body)


@router.get("/entities/{entity_id}")
def get_entity(
    book_id: BookId,
    entity_id: EntityId,
    state: StateDep,
    as_of_chapter: str | None = AsOf,
) -> EntityDetail:
    """One entity with its facts, chapter by chapter."""
    with transaction(state.sessions) as session:
        return service.get_entity(session, book_id, entity_id, as_of_chapter=as_of_chapter)


@router.patch("/entities/{entity_id}")
def update_entity(
    book_id: BookId, entity_id: EntityId, body: EntityUpdate, state: StateDep
) -> EntityDetail:
    """Rename an entity, change its kind or its aliases; re-extraction keeps the change."""
    with transaction(state.sessions) as session:
        return service.update_entity(session, book_id, entity_id, body)


@router.delete("/entities/{entity_id}", status_code=204)
def delete_entity(
    book_id: BookId,
    entity_id: EntityId,
    state: StateDep,
    confirm: bool = Query(False, description="Needed to delete an entity the author made"),
) -> Response:
    """Delete an entity (one the author made needs confirm=true); it does not come back."""
    with transaction(state.sessions) as session:
        service.delete_entity(session, book_id, entity_id, confirm=confirm)
    return Response(status_code=204)


@router.post("/entities/{entity_id}/merge")
def merge_entities(
    book_id: BookId, entity_id: EntityId, body: EntityMerge, state: StateDep
) -> EntityDetail:
    """Merge other entities (names, mentions, facts) into this one."""
    with transaction(state.sessions) as session:
        return service.merge_entities(session, book_id, entity_id, body)


@router.post("/entities/{entity_id}/split", status_code=201)
def split_entity(
    book_id: BookId, entity_id: EntityId, body: EntitySplit, state: StateDep
) -> EntityDetail:
    """Move some of an entity's names into a new entity."""
    with transaction(state.sessions) as session:
        return service.split_entity(session, book_id, entity_id, body)


@router.post("/facts", status_code=201)
def create_fact(book_id: BookId, body: FactCreate, state: StateDep) -> FactOut:
    """Add a fact; its quote must be in the chapter's current text."""
    with transaction(state.sessions) as session:
        return service.create_fact(session, book_id, body)


@router.patch("/facts/{fact_id}")
def update_fact(book_id: BookId, fact_id: FactId, body: FactUpdate, state: StateDep) -> FactOut:
    """Correct a fact, pin it, or mark it intentional."""
    with transaction(state.sessions) as session:
        return service.update_fact(session, book_id, fact_id, body)


@router.delete("/facts/{fact_id}", status_code=204)
def delete_fact(book_id: BookId, fact_id: FactId, state: StateDep) -> Response:
    """Delete a fact; re-extraction does not recreate it."""
    with transaction(state.sessions) as session:
        service.delete_fact(session, book_id, fact_id)
    return Response(status_code=204)


@router.get("/state")
def get_state(
    book_id: BookId,
    state: StateDep,
    as_of_chapter: str = Query(
        ..., pattern=ID_PATTERN, max_length=64, description="The chapter the state is as of"
    ),
    entity_id: str | None = Query(None, pattern=ID_PATTERN, max_length=64),
) -> StateOut:
    """Each entity's current facts as of a chapter, from that chapter and earlier ones only."""
    with transaction(state.sessions) as session:
        return service.state_as_of(session, book_id, as_of_chapter, entity_id=entity_id)


@router.get("/presence")
def get_presence(book_id: BookId, state: StateDep) -> PresenceOut:
    """Mentions of each entity per chapter (who is on stage, and where)."""
    with transaction(state.sessions) as session:
        return service.presence(session, book_id)
