"""Moving a book's bible in and out: our JSON (everything, with quotes and offsets), readable
Markdown, and the lorebooks (World Info) that SillyTavern and NovelAI users keep.

Imports are the author's material (`origin: "author"`) and never overwrite the author's own
edits silently: an entity the author made or edited whose kind, names or notes differ from the
file is a conflict, listed and left as it is. Lorebook entries quote no chapter, so their text
becomes a note on the entity (`bible_note`), not a fact. A malformed file raises InvalidInput
naming the entry and the field, before anything changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from services.core.bible import service
from services.core.bible.candidates import name_key
from services.core.bible.extraction import NormalizedText
from services.core.bible.models import BibleAlias, BibleEntity, BibleFact
from services.core.bible.notes import BibleNote, notes_of_book
from services.core.bible.repository import BibleRepository
from services.core.books.service import get_book
from services.core.chapters.models import Chapter
from services.core.chapters.service import current_text
from services.core.errors import InvalidInput, PayloadTooLarge
from services.core.ids import new_short_id, slugify

FORMAT_NAME = "copiloto-bible"
FORMAT_VERSION = 1
KINDS = ("character", "place", "object", "group")
ExportFormat = Literal["json", "markdown", "sillytavern"]
ImportFormat = Literal["json", "sillytavern", "novelai"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "sillytavern": "application/json",
}
_SUFFIX = {"json": "bible.json", "markdown": "bible.md", "sillytavern": "worldinfo.json"}


def export_file_name(title: str, book_id: str, fmt: str) -> str:
    """A slug of the title and the server-made id, never raw user text."""
    return f"{slugify(title)}-{book_id}.{_SUFFIX[fmt]}"


# Export


def export_data(session: Session, book_id: str) -> dict[str, Any]:
    """The whole bible of a book as plain data (format `copiloto-bible`, version 1)."""
    book = get_book(session, book_id)
    page = service.list_entities(session, book_id, limit=1_000_000)
    notes = notes_of_book(session, book_id)
    repo = BibleRepository(session)
    chapters = list(repo.chapters(book_id))
    entities = []
    for item in sorted(page.items, key=lambda e: (e.kind, e.name.casefold(), e.id)):
        detail = service.get_entity(session, book_id, item.id)
        row = repo.entity(item.id)
        entities.append(
            {
                "id": item.id,
                "kind": item.kind,
                "name": item.name,
                "aliases": item.aliases,
                "origin": item.origin,
                "edited": bool(row is not None and row.edited),
                "mentions": item.mentions,
                "notes": [n.text for n in notes.get(item.id, [])],
                "facts": [
                    {
                        "attribute": f.attribute,
                        "value": f.value,
                        "chapter_id": f.chapter_id,
                        "chapter_position": f.chapter_position,
                        "chapter_title": f.chapter_title,
                        "revision": f.revision,
                        "story_time": f.story_time,
                        "quote": f.quote,
                        "start": f.start,
                        "end": f.end,
                        "origin": f.origin,
                        "pinned": f.pinned,
                        "intentional": f.intentional,
                    }
                    for f in detail.facts
                ],
            }
        )
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "book": {"id": book.id, "title": book.title, "language": book.language},
        "chapters": [{"id": c.id, "position": c.position, "title": c.title} for c in chapters],
        "entities": entities,
    }


def export_json(session: Session, book_id: str) -> bytes:
    return json.dumps(export_data(session, book_id), ensure_ascii=False, indent=2).encode()


_KIND_TITLES = {
    "character": "Characters",
    "place": "Places",
    "object": "Objects",
    "group": "Groups",
}


def _md(text: str) -> str:
    """One line of user text, safe inside Markdown (no heading or list started by it)."""
    return " ".join(text.split()).replace("<", "&lt;")


def export_markdown(session: Session, book_id: str) -> bytes:
    """Per entity: kind, names, notes, then its facts in chapter order with their quotes."""
    data = export_data(session, book_id)
    lines = [f"# Story bible — {_md(data['book']['title'])}", ""]
    for kind in KINDS:
        group = [e for e in data["entities"] if e["kind"] == kind]
        if not group:
            continue
        lines += [f"## {_KIND_TITLES[kind]}", ""]
        for entity in group:
            lines += [f"### {_md(entity['name'])}", "", f"- Kind: {kind}"]
            if entity["aliases"]:
                lines.append("- Also: " + ", ".join(_md(a) for a in entity["aliases"]))
            lines.append(f"- Mentions: {entity['mentions']}")
            for note in entity["notes"]:
                lines.append(f"- Note: {_md(note)}")
            lines.append("")
            for fact in entity["facts"]:
                flags = [f for f in ("pinned", "intentional") if fact[f]]
                flag_text = f" ({', '.join(flags)})" if flags else ""
                lines.append(
                    f"- Chapter {fact['chapter_position']}, {_md(fact['chapter_title'])}: "
                    f"**{_md(fact['attribute'])}**: {_md(fact['value'])}{flag_text}"
                )
                lines.append(f"  > {_md(fact['quote'])}")
            if entity["facts"]:
                lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode()


def export_sillytavern(session: Session, book_id: str) -> bytes:
    """SillyTavern World Info: one entry per entity, its names as keys, notes and current
    facts as content."""
    data = export_data(session, book_id)
    entries: dict[str, Any] = {}
    for uid, entity in enumerate(data["entities"]):
        latest: dict[str, str] = {}
        for fact in entity["facts"]:
            latest[fact["attribute"]] = fact["value"]
        content = [*entity["notes"], *(f"{a}: {v}" for a, v in latest.items())]
        entries[str(uid)] = {
            "uid": uid,
            "key": [entity["name"], *entity["aliases"]],
            "keysecondary": [],
            "comment": entity["name"],
            "content": "\n".join(content),
            "constant": False,
            "selective": False,
            "disable": False,
            "order": 100,
            "position": 0,
            "extensions": {"copiloto_kind": entity["kind"]},
        }
    return json.dumps({"entries": entries}, ensure_ascii=False, indent=2).encode()


def export_bible(session: Session, book_id: str, fmt: str) -> bytes:
    if fmt == "json":
        return export_json(session, book_id)
    if fmt == "markdown":
        return export_markdown(session, book_id)
    if fmt == "sillytavern":
        return export_sillytavern(session, book_id)
    raise InvalidInput(f"unknown export format {fmt!r}: use json, markdown or sillytavern")


def entity_notes(session: Session, book_id: str, entity_id: str) -> list[BibleNote]:
    """An entity's notes (imported lorebook text), oldest first; 404 for an unknown entity."""
    service.get_entity(session, book_id, entity_id)
    return notes_of_book(session, book_id).get(entity_id, [])


# Parsing (every check before anything changes)


@dataclass
class IncomingFact:
    attribute: str
    value: str
    quote: str
    chapter_id: str | None
    chapter_position: int | None
    chapter_title: str | None
    start: int
    story_time: str | None
    pinned: bool
    intentional: bool


@dataclass
class IncomingEntity:
    where: str  # "entities[3]", "entries['12']": for messages
    name: str
    kind: str
    aliases: list[str]
    notes: list[str] = field(default_factory=list)
    facts: list[IncomingFact] = field(default_factory=list)


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _text(value: Any, where: str, *, max_length: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string")
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise InvalidInput(f"{where} must not be blank")
    if any(ord(c) < 32 for c in value if c not in "\t\n\r"):
        raise InvalidInput(f"{where} must not contain control characters")
    if len(cleaned) > max_length:
        raise InvalidInput(f"{where} is longer than {max_length} characters")
    return cleaned


def _note(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string")
    if len(value) > 20_000:
        raise InvalidInput(f"{where} is longer than 20000 characters")
    if any(ord(c) < 32 for c in value if c not in "\t\n\r"):
        raise InvalidInput(f"{where} must not contain control characters")
    return value.strip()


def _names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a list of strings")
    if len(value) > 50:
        raise InvalidInput(f"{where} has more than 50 names")
    names = []
    for i, item in enumerate(value):
        if isinstance(item, str) and not item.strip():
            continue
        names.append(_text(item, f"{where}[{i}]", max_length=200))
    return list(dict.fromkeys(names))


def _kind(value: Any, where: str, default: str = "character") -> str:
    if value is None:
        return default
    if value not in KINDS:
        raise InvalidInput(f"{where} must be one of {', '.join(KINDS)}, not {value!r}")
    return str(value)


def _bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"{where} must be true or false")
    return value


def _int(value: Any, where: str, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{where} must be a whole number ≥ 0")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object")
    return value


def parse_ours(data: bytes) -> list[IncomingEntity]:
    root = _object(_load_json(data), "the file")
    if root.get("format") != FORMAT_NAME:
        raise InvalidInput(f"'format' must be {FORMAT_NAME!r}: this is not a Copiloto bible export")
    if root.get("version") != FORMAT_VERSION:
        raise InvalidInput(
            f"'version' {root.get('version')!r} is not supported (this server reads "
            f"{FORMAT_VERSION})"
        )
    raw = root.get("entities")
    if not isinstance(raw, list):
        raise InvalidInput("'entities' must be a list")
    out = []
    for i, item in enumerate(raw):
        where = f"entities[{i}]"
        entry = _object(item, where)
        facts_raw = entry.get("facts", [])
        if not isinstance(facts_raw, list):
            raise InvalidInput(f"{where}.facts must be a list")
        facts = []
        for j, fact_item in enumerate(facts_raw):
            fw = f"{where}.facts[{j}]"
            fact = _object(fact_item, fw)
            facts.append(
                IncomingFact(
                    attribute=_text(fact.get("attribute"), f"{fw}.attribute", max_length=60),
                    value=_text(fact.get("value"), f"{fw}.value", max_length=500),
                    quote=_note(fact.get("quote"), f"{fw}.quote")
                    or _text(None, f"{fw}.quote", max_length=5000),
                    chapter_id=_text(fact.get("chapter_id"), f"{fw}.chapter_id", max_length=64)
                    if fact.get("chapter_id") is not None
                    else None,
                    chapter_position=_int(fact.get("chapter_position"), f"{fw}.chapter_position"),
                    chapter_title=_text(
                        fact.get("chapter_title"),
                        f"{fw}.chapter_title",
                        max_length=500,
                        required=False,
                    )
                    or None,
                    start=_int(fact.get("start"), f"{fw}.start") or 0,
                    story_time=_text(
                        fact.get("story_time"), f"{fw}.story_time", max_length=120, required=False
                    )
                    or None,
                    pinned=_bool(fact.get("pinned"), f"{fw}.pinned"),
                    intentional=_bool(fact.get("intentional"), f"{fw}.intentional"),
                )
            )
        notes_raw = entry.get("notes", [])
        if not isinstance(notes_raw, list):
            raise InvalidInput(f"{where}.notes must be a list of strings")
        notes = [_note(n, f"{where}.notes[{k}]") for k, n in enumerate(notes_raw)]
        out.append(
            IncomingEntity(
                where=where,
                name=_text(entry.get("name"), f"{where}.name", max_length=200),
                kind=_kind(entry.get("kind"), f"{where}.kind"),
                aliases=_names(entry.get("aliases"), f"{where}.aliases"),
                notes=[n for n in notes if n],
                facts=facts,
            )
        )
    return out


def parse_sillytavern(data: bytes) -> list[IncomingEntity]:
    """SillyTavern World Info: {"entries": {"0": {uid, key[], keysecondary[], comment,
    content, disable, ...}}}. The first key (or the comment) names the entity, the other keys
    are its aliases, the content becomes a note; disabled entries are imported too."""
    root = _object(_load_json(data), "the file")
    raw = root.get("entries")
    if isinstance(raw, list):  # some exports keep a list
        items: list[tuple[str, Any]] = [(str(i), e) for i, e in enumerate(raw)]
    elif isinstance(raw, dict):
        items = list(raw.items())
    else:
        raise InvalidInput("'entries' must be an object of World Info entries")
    out = []
    for uid, item in items:
        where = f"entries[{uid!r}]"
        entry = _object(item, where)
        keys = _names(entry.get("key"), f"{where}.key")
        comment = _text(entry.get("comment"), f"{where}.comment", max_length=200, required=False)
        name = comment or (keys[0] if keys else "")
        if not name:
            raise InvalidInput(f"{where} has neither 'comment' nor 'key': nothing names it")
        extensions = entry.get("extensions")
        kind_hint = extensions.get("copiloto_kind") if isinstance(extensions, dict) else None
        content = _note(entry.get("content"), f"{where}.content")
        out.append(
            IncomingEntity(
                where=where,
                name=name,
                kind=_kind(kind_hint, f"{where}.extensions.copiloto_kind"),
                aliases=[k for k in keys if name_key(k) != name_key(name)],
                notes=[content] if content else [],
            )
        )
    return out


def parse_novelai(data: bytes) -> list[IncomingEntity]:
    """NovelAI lorebook: {"lorebookVersion": n, "entries": [{displayName, keys[], text,
    enabled, category, ...}], "categories": [...]}: displayName names the entity, keys are its
    aliases, text becomes a note."""
    root = _object(_load_json(data), "the file")
    raw = root.get("entries")
    if not isinstance(raw, list):
        raise InvalidInput("'entries' must be a list of lorebook entries")
    out = []
    for i, item in enumerate(raw):
        where = f"entries[{i}]"
        entry = _object(item, where)
        keys = _names(entry.get("keys"), f"{where}.keys")
        display = _text(
            entry.get("displayName"), f"{where}.displayName", max_length=200, required=False
        )
        name = display or (keys[0] if keys else "")
        if not name:
            raise InvalidInput(f"{where} has neither 'displayName' nor 'keys': nothing names it")
        text = _note(entry.get("text"), f"{where}.text")
        out.append(
            IncomingEntity(
                where=where,
                name=name,
                kind="character",
                aliases=[k for k in keys if name_key(k) != name_key(name)],
                notes=[text] if text else [],
            )
        )
    return out


PARSERS = {"json": parse_ours, "sillytavern": parse_sillytavern, "novelai": parse_novelai}


def parse(data: bytes, fmt: str, *, max_bytes: int) -> list[IncomingEntity]:
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"the file has more than {max_bytes:,} bytes, the upload limit (MAX_UPLOAD_BYTES)"
        )
    if not data.strip():
        raise InvalidInput("the file is empty")
    parser = PARSERS.get(fmt)
    if parser is None:
        raise InvalidInput(f"unknown import format {fmt!r}: use json, sillytavern or novelai")
    entities = parser(data)
    if len(entities) > 10_000:
        raise InvalidInput("the file has more than 10000 entities")
    seen: dict[str, str] = {}
    for entity in entities:
        for name in [entity.name, *entity.aliases]:
            key = name_key(name)[:200]
            if key in seen and seen[key] != entity.where:
                raise InvalidInput(
                    f"{entity.where}: the name {name!r} is also used by {seen[key]}; "
                    "one name can belong to one entity only"
                )
            seen[key] = entity.where
    return entities


# Import


@dataclass
class ImportReport:
    dry_run: bool
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    skipped_facts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "conflicts": self.conflicts,
            "skipped_facts": self.skipped_facts,
        }


def _holder(repo: BibleRepository, book_id: str, names: Sequence[str]) -> list[BibleEntity]:
    """The live entities that go by any of these names (in the order found)."""
    found: dict[str, BibleEntity] = {}
    for name in names:
        alias = repo.alias_by_key(book_id, name_key(name)[:200])
        if alias is None:
            continue
        entity = repo.entity(alias.entity_id)
        if entity is not None and not entity.deleted:
            found.setdefault(entity.id, entity)
    return list(found.values())


def _target_chapter(chapters: Sequence[Chapter], fact: IncomingFact) -> tuple[Chapter | None, str]:
    by_id = {c.id: c for c in chapters}
    if fact.chapter_id and fact.chapter_id in by_id:
        return by_id[fact.chapter_id], ""
    if fact.chapter_position is not None:
        for chapter in chapters:
            if chapter.position == fact.chapter_position:
                return chapter, ""
    return None, "no chapter of this book matches its chapter id or position"


def import_bible(
    session: Session,
    book_id: str,
    data: bytes,
    fmt: str,
    *,
    dry_run: bool,
    max_bytes: int,
) -> ImportReport:
    """Apply the file's entities to the book's bible. What conflicts with the author's own
    edits is listed, not applied. The caller rolls back when `dry_run` (same code path, so the
    preview is exactly what a real import does)."""
    entities = parse(data, fmt, max_bytes=max_bytes)
    get_book(session, book_id)
    repo = BibleRepository(session)
    repo.lock_book(book_id)
    chapters = list(repo.chapters(book_id))
    texts: dict[str, tuple[int, str]] = {}
    notes = notes_of_book(session, book_id)
    report = ImportReport(dry_run=dry_run)
    source = fmt
    for incoming in entities:
        holders = _holder(repo, book_id, [incoming.name, *incoming.aliases])
        if len(holders) > 1:
            report.conflicts.append(
                {
                    "entry": incoming.where,
                    "name": incoming.name,
                    "field": "name",
                    "existing": [h.name for h in holders],
                    "incoming": [incoming.name, *incoming.aliases],
                    "message": "its names belong to several entities of the book: merge them first",
                }
            )
            continue
        if not holders:
            entity = BibleEntity(
                id=new_short_id(),
                book_id=book_id,
                kind=incoming.kind,
                name=incoming.name,
                origin="author",
                edited=True,
                deleted=False,
            )
            repo.add(entity)
            for name in dict.fromkeys([incoming.name, *incoming.aliases]):
                _add_name(repo, entity, name)
            changes = ["created"]
            report.created.append(
                {"entry": incoming.where, "name": incoming.name, "kind": incoming.kind}
            )
        else:
            entity = holders[0]
            existing_names = [a.name for a in repo.aliases_of(entity.id)]
            existing_keys = {name_key(n)[:200] for n in existing_names}
            new_names = [
                n
                for n in [incoming.name, *incoming.aliases]
                if name_key(n)[:200] not in existing_keys
            ]
            existing_notes = [n.text for n in notes.get(entity.id, [])]
            new_notes = [n for n in incoming.notes if n not in existing_notes]
            protected = entity.origin == "author" or entity.edited
            differs: list[dict[str, Any]] = []
            if incoming.kind != entity.kind and fmt == "json":
                differs.append(
                    {"field": "kind", "existing": entity.kind, "incoming": incoming.kind}
                )
            if new_names:
                differs.append(
                    {"field": "aliases", "existing": existing_names, "incoming": new_names}
                )
            if new_notes and existing_notes:
                differs.append(
                    {"field": "notes", "existing": existing_notes, "incoming": new_notes}
                )
            if protected and differs:
                for diff in differs:
                    report.conflicts.append(
                        {
                            "entry": incoming.where,
                            "name": incoming.name,
                            "entity_id": entity.id,
                            **diff,
                            "message": f"{entity.name!r} was made or edited by the author: "
                            "edit it by hand, or merge",
                        }
                    )
                continue
            changes = []
            if incoming.kind != entity.kind and fmt == "json":
                entity.kind = incoming.kind
                changes.append("kind")
            for name in new_names:
                _add_name(repo, entity, name)
            if new_names:
                changes.append("aliases")
            if differs:
                entity.edited = True
        for text in incoming.notes:
            if text not in [n.text for n in notes.get(entity.id, [])]:
                note = BibleNote(book_id=book_id, entity_id=entity.id, text=text, source=source)
                session.add(note)
                notes.setdefault(entity.id, []).append(note)
                if "notes" not in changes:
                    changes.append("notes")
        known = {f.signature for f in repo.facts(book_id, entity_id=entity.id)}
        added_facts = 0
        for j, fact in enumerate(incoming.facts):
            chapter, why = _target_chapter(chapters, fact)
            where = None
            if chapter is not None:
                if chapter.id not in texts:
                    revision = current_text(session, chapter)
                    texts[chapter.id] = (revision.number, revision.text)
                number, text = texts[chapter.id]
                where = NormalizedText(text).find(fact.quote, near=fact.start)
                if where is None:
                    why = f"its quote is not in chapter {chapter.title!r} as it is now"
            if chapter is None or where is None:
                report.skipped_facts.append(
                    {"entry": f"{incoming.where}.facts[{j}]", "name": incoming.name, "reason": why}
                )
                continue
            signature = service.fact_signature(fact.attribute, fact.value, fact.quote)
            if signature in known:
                continue
            known.add(signature)
            repo.add(
                BibleFact(
                    id=new_short_id(16),
                    book_id=book_id,
                    entity_id=entity.id,
                    chapter_id=chapter.id,
                    revision=number,
                    attribute=fact.attribute,
                    value=fact.value,
                    story_time=fact.story_time,
                    quote=text[where[0] : where[1]],
                    quote_start=where[0],
                    quote_end=where[1],
                    origin="author",
                    pinned=fact.pinned,
                    intentional=fact.intentional,
                    edited=False,
                    deleted=False,
                    signature=signature,
                )
            )
            added_facts += 1
        if added_facts:
            changes.append(f"facts+{added_facts}")
        if holders and changes:
            report.updated.append(
                {
                    "entry": incoming.where,
                    "name": entity.name,
                    "entity_id": entity.id,
                    "changes": changes,
                }
            )
    session.flush()
    return report


def _add_name(repo: BibleRepository, entity: BibleEntity, name: str) -> None:
    key = name_key(name)[:200]
    alias = repo.alias_by_key(entity.book_id, key)
    if alias is None:
        repo.add(
            BibleAlias(
                book_id=entity.book_id, entity_id=entity.id, name=name, key=key, origin="author"
            )
        )
    elif alias.entity_id != entity.id:
        # Only a deleted entity's tombstone can still hold it here: the name passes on.
        repo.move_aliases([alias.id], entity.id)
