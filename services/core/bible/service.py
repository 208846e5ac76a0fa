"""The story bible's behaviour: storing a chapter's extraction without undoing the author's
edits, reading entities, facts and the state as of a chapter, and the author's edits."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.core.bible.aliases import KnownEntity
from services.core.bible.candidates import fold, name_key
from services.core.bible.extraction import (
    EXTRACTOR_VERSION,
    ChapterExtraction,
    NormalizedText,
)
from services.core.bible.models import (
    BibleAlias,
    BibleEntity,
    BibleExtraction,
    BibleFact,
)
from services.core.bible.repository import BibleRepository
from services.core.bible.schemas import (
    EntityCreate,
    EntityDetail,
    EntityMerge,
    EntityOut,
    EntityPage,
    EntitySplit,
    EntityState,
    EntityUpdate,
    FactCreate,
    FactOut,
    FactUpdate,
    PresenceChapter,
    PresenceEntity,
    PresenceOut,
    StateOut,
)
from services.core.books.service import get_book
from services.core.chapters.models import Chapter
from services.core.chapters.service import current_text, get_chapter
from services.core.db import utcnow
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.ids import new_short_id

# Attributes whose facts add up rather than replace each other (each event stays true).
CUMULATIVE = frozenset({"event"})
# Attributes with several sides at once (eyes and hair; a brother and a wife): a later fact
# replaces an earlier one only when it speaks of the same side, which its value names.
MANY_SIDED = frozenset({"appearance", "family", "relationship", "possession", "knowledge", "trait"})
_FUNCTION_WORDS = frozenset(
    """the and was were had has his her with for from that this who are but not que com uma
    umas uns dos das era foi tem tinha por para seu sua seus suas nao mas ele ela muito
    very""".split()  # noqa: SIM905
)


def _side_words(value: str) -> set[str]:
    return {w for w in re.findall(r"\w{3,}", fold(value)) if w not in _FUNCTION_WORDS}


def replaces(attribute: str, earlier_value: str, later_value: str) -> bool:
    """A later fact of `attribute` stating `later_value` makes `earlier_value` stale."""
    if attribute in CUMULATIVE:
        return False
    if attribute in MANY_SIDED:
        return bool(_side_words(earlier_value) & _side_words(later_value))
    return True


def fact_signature(attribute: str, value: str, quote: str) -> str:
    """What makes two extractions of a chapter the same fact."""
    text = f"{fold(attribute)}|{' '.join(fold(value).split())}|{' '.join(quote.split())}"
    return hashlib.sha256(text.encode()).hexdigest()


# Extraction


def known_entities(session: Session, book_id: str) -> list[KnownEntity]:
    """The book's entities with all their names, deleted ones included (their names attach to
    the tombstone, so extraction does not bring them back)."""
    repo = BibleRepository(session)
    names: dict[str, list[str]] = defaultdict(list)
    for alias in repo.aliases(book_id):
        names[alias.entity_id].append(alias.name)
    return [
        KnownEntity(e.id, e.name, e.kind, tuple(names[e.id]))
        for e in repo.entities(book_id, with_deleted=True)
    ]


def is_extracted(session: Session, chapter: Chapter, *, use_llm: bool) -> bool:
    """The chapter's current text was extracted with this extractor, as fully as asked."""
    state = BibleRepository(session).extraction(chapter.id)
    return (
        state is not None
        and state.content_hash == chapter.content_hash
        and state.extractor_version == EXTRACTOR_VERSION
        and (state.used_llm or not use_llm)
    )


@dataclass(frozen=True)
class Stored:
    entities: int  # live entities mentioned in the chapter
    facts: int  # live facts of the chapter


def store_extraction(
    session: Session,
    *,
    chapter: Chapter,
    revision: int,
    content_hash: str,
    text: str,
    extraction: ChapterExtraction,
) -> Stored:
    """Replace the chapter's extracted mentions and facts. Kept as they are: the author's
    facts, pinned, intentional or corrected ones, and deleted ones (as tombstones, so the same
    fact is not recreated); entities the author deleted take no new facts."""
    book_id, chapter_id = chapter.book_id, chapter.id
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    entity_of: dict[str, BibleEntity] = {}
    counts: dict[int, int] = defaultdict(int)
    for extracted in extraction.entities:
        spellings = extraction.spellings.get(extracted.name) or dict.fromkeys(extracted.aliases, 0)
        entity = _resolve(repo, book_id, extraction.known_ids.get(extracted.name), spellings)
        if entity is None:
            entity = BibleEntity(
                id=new_short_id(),
                book_id=book_id,
                kind=extracted.kind,
                name=extracted.name[:200],
                origin="extracted",
                edited=False,
                deleted=False,
            )
            repo.add(entity)
        elif (
            extraction.used_llm
            and not entity.edited
            and entity.origin == "extracted"
            and entity.kind != extracted.kind
        ):
            entity.kind = extracted.kind
        entity_of[extracted.name] = entity
        for surface, count in spellings.items():
            key = name_key(surface)[:200]
            alias = repo.alias_by_key(book_id, key)
            if alias is None:
                alias = BibleAlias(
                    book_id=book_id,
                    entity_id=entity.id,
                    name=surface[:200],
                    key=key,
                    origin="extracted",
                )
                repo.add(alias)
            if count:
                counts[alias.id] += count
    repo.replace_mentions(chapter_id, dict(counts))
    kept: list[BibleFact] = []
    for fact in repo.chapter_facts(chapter_id):
        if (
            fact.deleted
            or fact.origin == "author"
            or fact.pinned
            or fact.intentional
            or fact.edited
        ):
            kept.append(fact)
        else:
            session.delete(fact)
    session.flush()
    normalized = NormalizedText(text)
    for fact in kept:
        if not fact.deleted and fact.revision != revision:
            where = normalized.find(fact.quote, near=fact.quote_start)
            if where is not None:
                fact.revision, (fact.quote_start, fact.quote_end) = revision, where
                fact.quote = text[where[0] : where[1]]
    known = {(f.entity_id, f.signature) for f in kept}
    for extracted_fact in extraction.facts:
        owner = entity_of.get(extracted_fact.entity_name)
        if owner is None or owner.deleted:
            continue
        signature = fact_signature(
            extracted_fact.attribute, extracted_fact.value, extracted_fact.quote
        )
        if (owner.id, signature) in known:
            continue
        known.add((owner.id, signature))
        repo.add(
            BibleFact(
                id=new_short_id(16),
                book_id=book_id,
                entity_id=owner.id,
                chapter_id=chapter_id,
                revision=revision,
                attribute=extracted_fact.attribute[:60],
                value=extracted_fact.value[:500],
                story_time=(extracted_fact.story_time or None) and extracted_fact.story_time[:120],
                quote=extracted_fact.quote,
                quote_start=extracted_fact.start,
                quote_end=extracted_fact.end,
                origin="extracted",
                pinned=False,
                intentional=False,
                edited=False,
                deleted=False,
                signature=signature,
            )
        )
    touched = {e.id for e in entity_of.values() if not e.deleted}
    # Read before: dropping orphans expires the session, and an entity of this chapter whose
    # names no longer count a mention may be among those dropped.
    _drop_orphans(repo, book_id)
    live_entities = touched & {e.id for e in repo.entities(book_id)}
    live_facts = [f for f in repo.chapter_facts(chapter_id) if not f.deleted]
    repo.save_extraction(
        BibleExtraction(
            chapter_id=chapter_id,
            book_id=book_id,
            content_hash=content_hash,
            revision=revision,
            extractor_version=EXTRACTOR_VERSION,
            used_llm=extraction.used_llm,
            entities=len(live_entities),
            facts=len(live_facts),
            dropped_quotes=extraction.dropped_quotes,
            extracted_at=utcnow(),
        )
    )
    return Stored(len(live_entities), len(live_facts))


def _resolve(
    repo: BibleRepository, book_id: str, known_id: str | None, spellings: dict[str, int]
) -> BibleEntity | None:
    """The stored entity an extracted one is: the known entity it attached to, or the one
    that holds one of its names (another chapter's job may have created it meanwhile)."""
    if known_id is not None:
        entity = repo.entity(known_id)
        if entity is not None:
            return entity
    for surface in spellings:
        alias = repo.alias_by_key(book_id, name_key(surface)[:200])
        if alias is not None:
            return repo.entity(alias.entity_id)
    return None


def _drop_orphans(repo: BibleRepository, book_id: str) -> None:
    """Extracted entities no chapter mentions any more and with no facts (their chapter was
    rewritten) go; the author's, edited ones and tombstones stay."""
    mentioned = repo.mentioned_entity_ids(book_id)
    with_facts = set(repo.fact_counts(book_id))
    for entity in repo.entities(book_id):
        if (
            entity.origin == "extracted"
            and not entity.edited
            and entity.id not in mentioned
            and entity.id not in with_facts
        ):
            repo.delete_entity(entity.id)


# Reading


@dataclass
class _Book:
    """One read of a book's bible: entities, names, mentions, facts and chapters."""

    chapters: list[Chapter]
    entities: dict[str, BibleEntity]
    names: dict[str, list[BibleAlias]]
    mentions: dict[str, dict[str, int]]  # entity -> chapter -> count
    facts: dict[str, list[BibleFact]]  # entity -> facts

    @property
    def position(self) -> dict[str, int]:
        return {c.id: c.position for c in self.chapters}


def _load(session: Session, book_id: str) -> _Book:
    get_book(session, book_id)
    repo = BibleRepository(session)
    entities = {e.id: e for e in repo.entities(book_id)}
    names: dict[str, list[BibleAlias]] = defaultdict(list)
    for alias in repo.aliases(book_id):
        names[alias.entity_id].append(alias)
    mentions: dict[str, dict[str, int]] = defaultdict(dict)
    for entity_id, chapter_id, count in repo.mention_counts(book_id):
        mentions[entity_id][chapter_id] = count
    facts: dict[str, list[BibleFact]] = defaultdict(list)
    for fact in repo.facts(book_id):
        if fact.entity_id in entities:
            facts[fact.entity_id].append(fact)
    return _Book(list(repo.chapters(book_id)), entities, names, mentions, facts)


def _chapter_in(book: _Book, chapter_id: str) -> Chapter:
    for chapter in book.chapters:
        if chapter.id == chapter_id:
            return chapter
    raise NotFound(f"chapter {chapter_id!r} not found in this book")


def _entity_out(book: _Book, entity: BibleEntity, until: int | None = None) -> EntityOut:
    """The entity as of chapter position `until` (None: the whole book)."""
    position = book.position
    seen = {
        c: n
        for c, n in book.mentions.get(entity.id, {}).items()
        if c in position and (until is None or position[c] <= until)
    }
    facts = [
        f
        for f in book.facts.get(entity.id, [])
        if until is None or position.get(f.chapter_id, until + 1) <= until
    ]
    return EntityOut(
        id=entity.id,
        kind=entity.kind,
        name=entity.name,
        aliases=[a.name for a in book.names.get(entity.id, []) if a.name != entity.name],
        origin=entity.origin,
        mentions=sum(seen.values()),
        chapters=sorted(seen, key=lambda c: position[c]),
        facts=len(facts),
    )


def _facts_out(book: _Book, facts: Sequence[BibleFact], until: int | None = None) -> list[FactOut]:
    """Facts in chapter order, each with the chapter where a later fact of its attribute
    replaces it (only chapters up to `until` are looked at)."""
    chapters = {c.id: c for c in book.chapters}
    visible = [
        f
        for f in facts
        if f.chapter_id in chapters and (until is None or chapters[f.chapter_id].position <= until)
    ]
    visible.sort(key=lambda f: (chapters[f.chapter_id].position, f.quote_start, f.id))
    later: dict[str, str | None] = {}
    by_attribute: dict[tuple[str, str], list[BibleFact]] = defaultdict(list)
    for fact in visible:
        by_attribute[(fact.entity_id, fact.attribute)].append(fact)
    for (_, attribute), run in by_attribute.items():
        for i, fact in enumerate(run):
            later[fact.id] = None
            here = chapters[fact.chapter_id].position
            for nxt in run[i + 1 :]:
                if chapters[nxt.chapter_id].position > here and replaces(
                    attribute, fact.value, nxt.value
                ):
                    later[fact.id] = nxt.chapter_id
                    break
    return [
        FactOut(
            id=f.id,
            entity_id=f.entity_id,
            attribute=f.attribute,
            value=f.value,
            chapter_id=f.chapter_id,
            chapter_position=chapters[f.chapter_id].position,
            chapter_title=chapters[f.chapter_id].title,
            revision=f.revision,
            until_chapter_id=later.get(f.id),
            story_time=f.story_time,
            quote=f.quote,
            start=f.quote_start,
            end=f.quote_end,
            origin=f.origin,
            pinned=f.pinned,
            intentional=f.intentional,
        )
        for f in visible
    ]


def list_entities(
    session: Session,
    book_id: str,
    *,
    kind: str | None = None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> EntityPage:
    """The book's entities, most mentioned first, filtered by kind and by a name search."""
    book = _load(session, book_id)
    wanted = fold(q.strip()) if q and q.strip() else None
    items = []
    for entity in book.entities.values():
        if kind is not None and entity.kind != kind:
            continue
        if wanted is not None and not any(
            wanted in fold(n) for n in [entity.name, *(a.name for a in book.names[entity.id])]
        ):
            continue
        items.append(_entity_out(book, entity))
    items.sort(key=lambda e: (-e.mentions, e.name.casefold(), e.id))
    return EntityPage(items=items[offset : offset + limit], total=len(items))


def _live_entity(book: _Book, entity_id: str) -> BibleEntity:
    entity = book.entities.get(entity_id)
    if entity is None:
        raise NotFound(f"entity {entity_id!r} not found in this book's bible")
    return entity


def get_entity(
    session: Session, book_id: str, entity_id: str, *, as_of_chapter: str | None = None
) -> EntityDetail:
    """One entity with its facts in chapter order; with `as_of_chapter`, only what chapters
    up to it say."""
    book = _load(session, book_id)
    entity = _live_entity(book, entity_id)
    until = _chapter_in(book, as_of_chapter).position if as_of_chapter else None
    out = _entity_out(book, entity, until)
    facts = _facts_out(book, book.facts.get(entity.id, []), until)
    return EntityDetail(**out.model_dump(exclude={"facts"}), facts=facts)


def state_as_of(
    session: Session, book_id: str, as_of_chapter: str, *, entity_id: str | None = None
) -> StateOut:
    """Each entity's latest value per attribute from chapters up to `as_of_chapter` (events
    add up); nothing a later chapter says."""
    book = _load(session, book_id)
    until = _chapter_in(book, as_of_chapter).position
    entities = [_live_entity(book, entity_id)] if entity_id else list(book.entities.values())
    states = []
    for entity in entities:
        out = _entity_out(book, entity, until)
        facts = current_facts(_facts_out(book, book.facts.get(entity.id, []), until))
        if out.mentions or facts or entity_id:
            states.append(EntityState(entity=out, facts=facts))
    states.sort(key=lambda s: (-s.entity.mentions, s.entity.name.casefold()))
    return StateOut(as_of_chapter=as_of_chapter, entities=states)


def current_facts(facts: Sequence[FactOut]) -> list[FactOut]:
    """Of the facts up to a chapter (their `until` computed within that range): those no
    later fact replaced (events never are)."""
    return [f for f in facts if f.until_chapter_id is None]


def presence(session: Session, book_id: str) -> PresenceOut:
    """Mentions of each entity per chapter, for the heat map and 'who is on stage'."""
    book = _load(session, book_id)
    chapters = [
        PresenceChapter(id=c.id, title=c.title, position=c.position, words=c.word_count)
        for c in book.chapters
    ]
    rows = []
    for entity in book.entities.values():
        seen = book.mentions.get(entity.id, {})
        counts = [seen.get(c.id, 0) for c in book.chapters]
        if any(counts):
            rows.append(
                PresenceEntity(id=entity.id, name=entity.name, kind=entity.kind, counts=counts)
            )
    rows.sort(key=lambda r: (-sum(r.counts), r.name.casefold()))
    return PresenceOut(chapters=chapters, entities=rows)


# The author's edits


def _entity_in_book(repo: BibleRepository, book_id: str, entity_id: str) -> BibleEntity:
    entity = repo.entity(entity_id)
    if entity is None or entity.book_id != book_id or entity.deleted:
        raise NotFound(f"entity {entity_id!r} not found in this book's bible")
    return entity


def _claim_name(repo: BibleRepository, entity: BibleEntity, name: str, origin: str) -> None:
    """Give `name` to the entity; 409 when another live entity goes by it (merge instead).
    A name held by a deleted entity's tombstone passes to this one."""
    key = name_key(name)[:200]
    alias = repo.alias_by_key(entity.book_id, key)
    if alias is None:
        repo.add(
            BibleAlias(
                book_id=entity.book_id, entity_id=entity.id, name=name, key=key, origin=origin
            )
        )
        return
    if alias.entity_id == entity.id:
        return
    holder = repo.entity(alias.entity_id)
    if holder is not None and not holder.deleted:
        raise Conflict(
            f"the name {name!r} already belongs to entity {holder.id!r} ({holder.name}): "
            "merge the two entities instead"
        )
    repo.move_aliases([alias.id], entity.id)


def create_entity(session: Session, book_id: str, body: EntityCreate) -> EntityDetail:
    """An entity the author adds by hand."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    entity = BibleEntity(
        id=new_short_id(),
        book_id=book_id,
        kind=body.kind,
        name=body.name,
        origin="author",
        edited=True,
        deleted=False,
    )
    repo.add(entity)
    for name in dict.fromkeys([body.name, *body.aliases]):
        _claim_name(repo, entity, name, "author")
    return get_entity(session, book_id, entity.id)


def update_entity(
    session: Session, book_id: str, entity_id: str, body: EntityUpdate
) -> EntityDetail:
    """Rename, retype or give new names; extraction keeps the new shape."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    entity = _entity_in_book(repo, book_id, entity_id)
    if body.name is None and body.kind is None and body.aliases is None:
        raise InvalidInput("nothing to change: send a name, a kind or aliases")
    if body.kind is not None:
        entity.kind = body.kind
    if body.name is not None:
        _claim_name(repo, entity, body.name, "author")
        entity.name = body.name
    if body.aliases is not None:
        wanted = {name_key(n)[:200] for n in [entity.name, *body.aliases]}
        for alias in repo.aliases_of(entity.id):
            if alias.key not in wanted:
                repo.delete_alias(alias.id)
        for name in body.aliases:
            _claim_name(repo, entity, name, "author")
    entity.edited = True
    entity.updated_at = utcnow()
    session.flush()
    return get_entity(session, book_id, entity.id)


def delete_entity(session: Session, book_id: str, entity_id: str, *, confirm: bool) -> None:
    """An extracted entity stays as a hidden tombstone (re-extraction does not bring it back);
    one the author made is removed, after confirmation."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    entity = _entity_in_book(repo, book_id, entity_id)
    if entity.origin == "author":
        if not confirm:
            raise Conflict(
                f"entity {entity.name!r} was made by the author: send ?confirm=true to delete "
                "it and its facts"
            )
        repo.delete_entity(entity.id)
        return
    entity.deleted = True
    for fact in repo.facts(book_id, entity_id=entity.id):
        fact.deleted = True
    session.flush()


def merge_entities(
    session: Session, book_id: str, entity_id: str, body: EntityMerge
) -> EntityDetail:
    """The other entities' names, mentions and facts join this one; they are gone after."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    target = _entity_in_book(repo, book_id, entity_id)
    others = list(dict.fromkeys(body.other_ids))
    if target.id in others:
        raise InvalidInput("an entity cannot be merged into itself: leave its id out of other_ids")
    merged = [_entity_in_book(repo, book_id, other) for other in others]
    for other in merged:
        repo.move_aliases([a.id for a in repo.aliases_of(other.id)], target.id)
    repo.move_facts([o.id for o in merged], target.id)
    repo.move_notes([o.id for o in merged], target.id)
    for other in merged:
        repo.delete_entity(other.id)
    target = _entity_in_book(repo, book_id, entity_id)
    target.edited = True
    target.updated_at = utcnow()
    session.flush()
    return get_entity(session, book_id, target.id)


def split_entity(session: Session, book_id: str, entity_id: str, body: EntitySplit) -> EntityDetail:
    """Some of an entity's names (with their mentions) become a new entity."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    source = _entity_in_book(repo, book_id, entity_id)
    held = {a.key: a for a in repo.aliases_of(source.id)}
    moving = []
    for name in body.aliases:
        alias = held.get(name_key(name)[:200])
        if alias is None:
            raise InvalidInput(f"{name!r} is not a name of entity {source.name!r}")
        if alias.name == source.name or alias.key == name_key(source.name)[:200]:
            raise InvalidInput(
                f"{name!r} is the entity's own name: rename the entity first, then split"
            )
        moving.append(alias)
    new = BibleEntity(
        id=new_short_id(),
        book_id=book_id,
        kind=body.kind or source.kind,
        name=body.name or moving[0].name,
        origin="author",
        edited=True,
        deleted=False,
    )
    repo.add(new)
    repo.move_aliases([a.id for a in moving], new.id)
    _claim_name(repo, new, new.name, "author")
    source.edited = True
    session.flush()
    return get_entity(session, book_id, new.id)


def create_fact(session: Session, book_id: str, body: FactCreate) -> FactOut:
    """A fact the author states, with its quote found in the chapter's current text."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    entity = _entity_in_book(repo, book_id, body.entity_id)
    chapter = get_chapter(session, body.chapter_id, book_id=book_id)
    revision = current_text(session, chapter)
    where = NormalizedText(revision.text).find(body.quote)
    if where is None:
        raise InvalidInput(
            f"the quote is not in chapter {chapter.id!r} as it is now (revision "
            f"{revision.number}): copy it from the chapter's text exactly"
        )
    start, end = where
    fact = BibleFact(
        id=new_short_id(16),
        book_id=book_id,
        entity_id=entity.id,
        chapter_id=chapter.id,
        revision=revision.number,
        attribute=body.attribute,
        value=body.value,
        story_time=body.story_time or None,
        quote=revision.text[start:end],
        quote_start=start,
        quote_end=end,
        origin="author",
        pinned=False,
        intentional=False,
        edited=False,
        deleted=False,
        signature=fact_signature(body.attribute, body.value, body.quote),
    )
    repo.add(fact)
    return _fact_out(session, book_id, fact.id)


def _fact_in_book(repo: BibleRepository, book_id: str, fact_id: str) -> BibleFact:
    fact = repo.fact(fact_id)
    if fact is None or fact.book_id != book_id or fact.deleted:
        raise NotFound(f"fact {fact_id!r} not found in this book's bible")
    return fact


def _fact_out(session: Session, book_id: str, fact_id: str) -> FactOut:
    book = _load(session, book_id)
    fact = _fact_in_book(BibleRepository(session), book_id, fact_id)
    (out,) = [f for f in _facts_out(book, book.facts[fact.entity_id]) if f.id == fact.id]
    return out


def update_fact(session: Session, book_id: str, fact_id: str, body: FactUpdate) -> FactOut:
    """Correct a fact's value or attribute, pin it, or mark it intentional."""
    get_book(session, book_id)
    fact = _fact_in_book(BibleRepository(session), book_id, fact_id)
    if body.model_dump(exclude_none=True) == {}:
        raise InvalidInput("nothing to change: send value, attribute, pinned or intentional")
    if body.value is not None and body.value != fact.value:
        fact.value, fact.edited = body.value, True
    if body.attribute is not None and body.attribute != fact.attribute:
        fact.attribute, fact.edited = body.attribute, True
    if body.pinned is not None:
        fact.pinned = body.pinned
    if body.intentional is not None:
        fact.intentional = body.intentional
    session.flush()
    return _fact_out(session, book_id, fact.id)


def delete_fact(session: Session, book_id: str, fact_id: str) -> None:
    """An extracted fact stays as a tombstone, so re-extraction does not recreate it."""
    get_book(session, book_id)
    repo = BibleRepository(session)
    fact = _fact_in_book(repo, book_id, fact_id)
    if fact.origin == "author":
        repo.delete_fact(fact.id)
    else:
        fact.deleted = True
    session.flush()
