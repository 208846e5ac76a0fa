"""All SQL of the story bible."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services.core.bible.models import (
    BibleAlias,
    BibleEntity,
    BibleExtraction,
    BibleFact,
    BibleMention,
)
from services.core.bible.notes import BibleNote
from services.core.books.models import Book
from services.core.chapters.models import Chapter


class BibleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_book(self, book_id: str) -> None:
        """Serialises bible writes of one book (two chapters' extractions may create the same
        name at once). On SQLite a SELECT takes no lock and reads outside the transaction, so
        two stores both saw no "Escobar" and each made one: a no-op write takes the database's
        write lock first, and every read after it sees the other store's names."""
        if self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(
                update(Book).where(Book.id == book_id).values(updated_at=Book.updated_at)
            )
        else:
            self.session.execute(select(Book.id).where(Book.id == book_id).with_for_update())

    # Entities and names

    def entity(self, entity_id: str) -> BibleEntity | None:
        return self.session.get(BibleEntity, entity_id)

    def entities(self, book_id: str, *, with_deleted: bool = False) -> Sequence[BibleEntity]:
        stmt = select(BibleEntity).where(BibleEntity.book_id == book_id)
        if not with_deleted:
            stmt = stmt.where(BibleEntity.deleted.is_(False))
        return self.session.scalars(stmt.order_by(BibleEntity.name)).all()

    def add(self, row: BibleEntity | BibleAlias | BibleFact | BibleMention) -> None:
        self.session.add(row)
        self.session.flush()

    def aliases(self, book_id: str) -> Sequence[BibleAlias]:
        stmt = select(BibleAlias).where(BibleAlias.book_id == book_id).order_by(BibleAlias.id)
        return self.session.scalars(stmt).all()

    def aliases_of(self, entity_id: str) -> Sequence[BibleAlias]:
        stmt = select(BibleAlias).where(BibleAlias.entity_id == entity_id).order_by(BibleAlias.id)
        return self.session.scalars(stmt).all()

    def alias_by_key(self, book_id: str, key: str) -> BibleAlias | None:
        stmt = select(BibleAlias).where(BibleAlias.book_id == book_id, BibleAlias.key == key)
        return self.session.scalars(stmt).first()

    def move_aliases(self, alias_ids: Iterable[int], entity_id: str) -> None:
        ids = list(alias_ids)
        if ids:
            self.session.execute(
                update(BibleAlias)
                .where(BibleAlias.id.in_(ids))
                .values(entity_id=entity_id)
                .execution_options(synchronize_session="fetch")
            )

    def delete_alias(self, alias_id: int) -> None:
        self.session.execute(delete(BibleMention).where(BibleMention.alias_id == alias_id))
        self.session.execute(delete(BibleAlias).where(BibleAlias.id == alias_id))

    def delete_entity(self, entity_id: str) -> None:
        """The entity, its names, their mentions and its facts (explicit: SQLite honours ON
        DELETE CASCADE only with its pragma)."""
        alias_ids = select(BibleAlias.id).where(BibleAlias.entity_id == entity_id)
        for stmt in (
            delete(BibleNote).where(BibleNote.entity_id == entity_id),
            delete(BibleMention).where(BibleMention.alias_id.in_(alias_ids)),
            delete(BibleAlias).where(BibleAlias.entity_id == entity_id),
            delete(BibleFact).where(BibleFact.entity_id == entity_id),
            delete(BibleEntity).where(BibleEntity.id == entity_id),
        ):
            self.session.execute(stmt.execution_options(synchronize_session=False))
        self.session.expire_all()

    # Mentions

    def replace_mentions(self, chapter_id: str, counts: dict[int, int]) -> None:
        self.session.execute(delete(BibleMention).where(BibleMention.chapter_id == chapter_id))
        for alias_id, count in counts.items():
            self.session.add(BibleMention(alias_id=alias_id, chapter_id=chapter_id, count=count))
        self.session.flush()

    def mention_counts(self, book_id: str) -> list[tuple[str, str, int]]:
        """(entity id, chapter id, mentions) for the book's live entities."""
        stmt = (
            select(BibleAlias.entity_id, BibleMention.chapter_id, func.sum(BibleMention.count))
            .join(BibleMention, BibleMention.alias_id == BibleAlias.id)
            .where(BibleAlias.book_id == book_id)
            .group_by(BibleAlias.entity_id, BibleMention.chapter_id)
        )
        return [(e, c, int(n)) for e, c, n in self.session.execute(stmt)]

    def alias_mentions(self, book_id: str) -> dict[int, dict[str, int]]:
        """alias id -> chapter id -> count, for every name of the book."""
        stmt = (
            select(BibleMention.alias_id, BibleMention.chapter_id, BibleMention.count)
            .join(BibleAlias, BibleMention.alias_id == BibleAlias.id)
            .where(BibleAlias.book_id == book_id)
        )
        out: dict[int, dict[str, int]] = {}
        for alias_id, chapter_id, count in self.session.execute(stmt):
            out.setdefault(alias_id, {})[chapter_id] = count
        return out

    def mentioned_entity_ids(self, book_id: str) -> set[str]:
        stmt = (
            select(BibleAlias.entity_id)
            .join(BibleMention, BibleMention.alias_id == BibleAlias.id)
            .where(BibleAlias.book_id == book_id)
            .distinct()
        )
        return set(self.session.scalars(stmt))

    # Facts

    def fact(self, fact_id: str) -> BibleFact | None:
        return self.session.get(BibleFact, fact_id)

    def facts(self, book_id: str, *, entity_id: str | None = None) -> Sequence[BibleFact]:
        stmt = select(BibleFact).where(BibleFact.book_id == book_id, BibleFact.deleted.is_(False))
        if entity_id is not None:
            stmt = stmt.where(BibleFact.entity_id == entity_id)
        return self.session.scalars(stmt.order_by(BibleFact.created_at, BibleFact.id)).all()

    def all_facts(self, book_id: str) -> Sequence[BibleFact]:
        """Every fact of the book, tombstones included."""
        stmt = select(BibleFact).where(BibleFact.book_id == book_id).order_by(BibleFact.id)
        return self.session.scalars(stmt).all()

    def chapter_facts(self, chapter_id: str) -> Sequence[BibleFact]:
        """Every fact of the chapter, tombstones included."""
        stmt = select(BibleFact).where(BibleFact.chapter_id == chapter_id)
        return self.session.scalars(stmt).all()

    def fact_counts(self, book_id: str) -> dict[str, int]:
        stmt = (
            select(BibleFact.entity_id, func.count())
            .where(BibleFact.book_id == book_id, BibleFact.deleted.is_(False))
            .group_by(BibleFact.entity_id)
        )
        return {e: int(n) for e, n in self.session.execute(stmt)}

    def move_facts(self, from_ids: Sequence[str], entity_id: str) -> None:
        if from_ids:
            self.session.execute(
                update(BibleFact)
                .where(BibleFact.entity_id.in_(list(from_ids)))
                .values(entity_id=entity_id)
                .execution_options(synchronize_session="fetch")
            )

    def move_notes(self, from_ids: Sequence[str], entity_id: str) -> None:
        if from_ids:
            self.session.execute(
                update(BibleNote)
                .where(BibleNote.entity_id.in_(list(from_ids)))
                .values(entity_id=entity_id)
                .execution_options(synchronize_session="fetch")
            )

    def delete_fact(self, fact_id: str) -> None:
        self.session.execute(delete(BibleFact).where(BibleFact.id == fact_id))

    def totals(self, book_id: str) -> tuple[int, int]:
        """The book's live entities and facts."""
        entities = self.session.scalar(
            select(func.count())
            .select_from(BibleEntity)
            .where(BibleEntity.book_id == book_id, BibleEntity.deleted.is_(False))
        )
        facts = self.session.scalar(
            select(func.count())
            .select_from(BibleFact)
            .where(BibleFact.book_id == book_id, BibleFact.deleted.is_(False))
        )
        return int(entities or 0), int(facts or 0)

    # Extraction state

    def extraction(self, chapter_id: str) -> BibleExtraction | None:
        return self.session.get(BibleExtraction, chapter_id)

    def extractions(self, book_id: str) -> Sequence[BibleExtraction]:
        stmt = select(BibleExtraction).where(BibleExtraction.book_id == book_id)
        return self.session.scalars(stmt).all()

    def save_extraction(self, row: BibleExtraction) -> None:
        self.session.merge(row)
        self.session.flush()

    # Chapters (the bible's view of them)

    def chapters(self, book_id: str) -> Sequence[Chapter]:
        stmt = select(Chapter).where(Chapter.book_id == book_id).order_by(Chapter.position)
        return self.session.scalars(stmt).all()

    def delete_book(self, book_id: str) -> None:
        """Every bible row of a book (the archive's purge, before the chapters go)."""
        alias_ids = select(BibleAlias.id).where(BibleAlias.book_id == book_id)
        for stmt in (
            delete(BibleNote).where(BibleNote.book_id == book_id),
            delete(BibleMention).where(BibleMention.alias_id.in_(alias_ids)),
            delete(BibleFact).where(BibleFact.book_id == book_id),
            delete(BibleAlias).where(BibleAlias.book_id == book_id),
            delete(BibleEntity).where(BibleEntity.book_id == book_id),
            delete(BibleExtraction).where(BibleExtraction.book_id == book_id),
        ):
            self.session.execute(stmt.execution_options(synchronize_session=False))
