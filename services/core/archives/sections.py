"""The parts of a book archive. Each section writes its own members, reads them back (validated,
in memory) and inserts its rows; a restore runs them in order inside one transaction.

The story bible (DESIGN §10) is the `bible` section (`bible.json`), after `chapters`: its
records are kept in `BookData.extra["bible"]` and its chapter ids mapped through `IdMap`; the
continuity audit's findings with the author's marks are the `continuity` section
(`continuity.json`) the same way.
Archives name their sections in the manifest; an archive holding a section this version does
not know is refused (never restored with that part silently dropped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from services.core.archives.container import ArchiveRejected, json_bytes
from services.core.archives.records import (
    ArtifactRecord,
    BibleRecord,
    BookRecord,
    ChapterRecord,
    ContinuityRecord,
    RevisionRecord,
    iso,
)
from services.core.archives.repository import BookRowsRepository
from services.core.artifacts.models import Artifact
from services.core.bible.candidates import name_key
from services.core.bible.models import (
    BibleAlias,
    BibleEntity,
    BibleExtraction,
    BibleFact,
    BibleMention,
)
from services.core.bible.notes import BibleNote, notes_of_book
from services.core.bible.repository import BibleRepository
from services.core.books.models import Book
from services.core.chapters.models import Chapter, ChapterRevision
from services.core.continuity.models import ContinuityChapter, ContinuityFinding
from services.core.continuity.repository import ContinuityRepository
from services.core.files import ChapterFiles
from services.core.ids import new_short_id

BOOK_MEMBER = "book.json"
BIBLE_MEMBER = "bible.json"
CONTINUITY_MEMBER = "continuity.json"
ARTIFACTS_MEMBER = "artifacts.json"
FILES_PREFIX = "files/"
M = TypeVar("M", bound="BaseModel")
_CHAPTER_MEMBER = re.compile(r"^chapters/([A-Za-z0-9][A-Za-z0-9._-]*)/chapter\.json$")


@dataclass(frozen=True)
class ChapterData:
    record: ChapterRecord
    texts: dict[int, str]  # revision number -> its text


@dataclass
class BookData:
    """One book read from an archive, validated, before anything is written."""

    book: BookRecord | None = None
    chapters: list[ChapterData] = field(default_factory=list)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # chapters-dir file name -> bytes
    extra: dict[str, Any] = field(default_factory=dict)  # later sections (the story bible)

    @property
    def book_record(self) -> BookRecord:
        if self.book is None:
            raise ArchiveRejected(f"the archive has no {BOOK_MEMBER}")
        return self.book


@dataclass(frozen=True)
class IdMap:
    """Archive ids -> the ids rows get here: the same ones, or new ones for `as_new`."""

    book: str
    chapters: dict[str, str]
    artifacts: dict[str, str]
    jobs: dict[str, str]

    def chapter(self, chapter_id: str | None) -> str | None:
        return None if chapter_id is None else self.chapters.get(chapter_id, chapter_id)


@dataclass(frozen=True)
class ExportSource:
    session: Session
    book: Book
    chapters_dir: Path


class ArchiveSection(Protocol):
    name: str
    version: int

    def export(self, source: ExportSource) -> dict[str, bytes]:
        """This section's members (names from server-made ids only)."""
        ...

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        """Parse and validate this section's members into `data`; returns the names it used."""
        ...

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        """Insert the rows (no commit); returns files to write into the chapters folder."""
        ...


def _json(members: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(members[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArchiveRejected(f"archive member {name!r} is not valid JSON: {exc}") from None


def _validate(model: type[M], value: Any, where: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ArchiveRejected(f"archive member {where!r} is invalid: {problems}") from None


def _text(members: dict[str, bytes], name: str, max_chars: int) -> str:
    if name not in members:
        raise ArchiveRejected(f"archive member {name!r} is missing")
    try:
        text = members[name].decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveRejected(f"archive member {name!r} is not UTF-8 text") from None
    if "\x00" in text:
        raise ArchiveRejected(f"archive member {name!r} contains NUL characters")
    if len(text) > max_chars:
        raise ArchiveRejected(
            f"archive member {name!r} has {len(text):,} characters; the limit is "
            f"{max_chars:,} (MAX_TEXT_CHARS)"
        )
    return text


class BookSection:
    name = "book"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        book = source.book
        record = {
            "id": book.id,
            "title": book.title,
            "language": book.language,
            "genre": book.genre,
            "synopsis": book.synopsis,
            "created_at": iso(book.created_at),
            "updated_at": iso(book.updated_at),
        }
        return {BOOK_MEMBER: json_bytes(record)}

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        if BOOK_MEMBER not in members:
            raise ArchiveRejected(f"the archive has no {BOOK_MEMBER}")
        data.book = _validate(BookRecord, _json(members, BOOK_MEMBER), BOOK_MEMBER)
        return {BOOK_MEMBER}

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        record = data.book_record
        session.add(Book(**record.model_dump(exclude={"id"}), id=ids.book, deleted_at=None))
        session.flush()
        return {}


class ChaptersSection:
    """`chapters/<position>-<id>/chapter.json` (the chapter and its revision list) and every
    revision's text as `revisions/<number>.md`, exactly as saved."""

    name = "chapters"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        rows = BookRowsRepository(source.session)
        members: dict[str, bytes] = {}
        for chapter in rows.chapters(source.book.id):
            folder = f"chapters/{chapter.position:04d}-{chapter.id}"
            revisions = []
            for revision in rows.revisions(chapter.id):
                text_member = f"{folder}/revisions/{revision.number:04d}.md"
                members[text_member] = revision.text.encode("utf-8")
                revisions.append(
                    {
                        "number": revision.number,
                        "title": revision.title,
                        "source": revision.source,
                        "created_at": iso(revision.created_at),
                        "text": text_member,
                    }
                )
            record = {
                "id": chapter.id,
                "position": chapter.position,
                "title": chapter.title,
                "current_revision": chapter.current_revision,
                "word_count": chapter.word_count,
                "content_hash": chapter.content_hash,
                "summary": chapter.summary,
                "metadata": chapter.meta or {},
                "created_at": iso(chapter.created_at),
                "updated_at": iso(chapter.updated_at),
                "revisions": revisions,
            }
            members[f"{folder}/chapter.json"] = json_bytes(record)
        return members

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        used: set[str] = set()
        seen: set[str] = set()
        for name in sorted(members):
            match = _CHAPTER_MEMBER.fullmatch(name)
            if not match:
                continue
            record = _validate(ChapterRecord, _json(members, name), name)
            if record.id in seen:
                raise ArchiveRejected(f"chapter {record.id!r} appears twice in the archive")
            seen.add(record.id)
            folder = name.rsplit("/", 1)[0]
            texts = self._texts(members, name, folder, record.revisions, max_text_chars)
            if record.current_revision not in texts:
                raise ArchiveRejected(
                    f"chapter {record.id!r} is at revision {record.current_revision}, which the "
                    "archive does not hold"
                )
            used |= {name, *(r.text for r in record.revisions)}
            data.chapters.append(ChapterData(record, texts))
        data.chapters.sort(key=lambda c: (c.record.position, c.record.id))
        return used

    @staticmethod
    def _texts(
        members: dict[str, bytes],
        where: str,
        folder: str,
        revisions: list[RevisionRecord],
        max_text_chars: int,
    ) -> dict[int, str]:
        texts: dict[int, str] = {}
        for revision in revisions:
            if revision.number in texts:
                raise ArchiveRejected(f"{where}: revision {revision.number} appears twice")
            if not revision.text.startswith(f"{folder}/revisions/"):
                raise ArchiveRejected(
                    f"{where}: revision {revision.number}'s text must be in {folder}/revisions/"
                )
            texts[revision.number] = _text(members, revision.text, max_text_chars)
        return texts

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        for chapter in data.chapters:
            record = chapter.record
            session.add(
                Chapter(
                    id=ids.chapters[record.id],
                    book_id=ids.book,
                    position=record.position,
                    title=record.title,
                    current_revision=record.current_revision,
                    word_count=record.word_count,
                    content_hash=record.content_hash,
                    summary=record.summary,
                    meta=record.metadata,
                    indexed_hash=None,  # memory here does not hold it yet: the reindex will
                    index_format=None,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )
            session.flush()
            for revision in record.revisions:
                session.add(
                    ChapterRevision(
                        chapter_id=ids.chapters[record.id],
                        number=revision.number,
                        title=revision.title,
                        text=chapter.texts[revision.number],
                        source=revision.source,
                        created_at=revision.created_at,
                    )
                )
            session.flush()
        return {}


class ArtifactsSection:
    """`artifacts.json`: suggestions, critiques, ideas, scenes and their structured data."""

    name = "artifacts"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        records = [
            {
                "id": a.id,
                "job_id": a.job_id,
                "kind": a.kind,
                "chapter_id": a.chapter_id,
                "title": a.title,
                "text": a.text,
                "data": a.data,
                "file_name": a.file_name,
                "created_at": iso(a.created_at),
            }
            for a in BookRowsRepository(source.session).artifacts(source.book.id)
        ]
        return {ARTIFACTS_MEMBER: json_bytes(records)}

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        if ARTIFACTS_MEMBER not in members:
            return set()
        raw = _json(members, ARTIFACTS_MEMBER)
        if not isinstance(raw, list):
            raise ArchiveRejected(f"archive member {ARTIFACTS_MEMBER!r} must be a JSON list")
        seen: set[str] = set()
        jobs: set[str] = set()
        for n, item in enumerate(raw):
            record = _validate(ArtifactRecord, item, f"{ARTIFACTS_MEMBER}[{n}]")
            if record.id in seen or record.job_id in jobs:
                raise ArchiveRejected(
                    f"artifact {record.id!r} (job {record.job_id!r}) appears twice in the archive"
                )
            seen.add(record.id)
            jobs.add(record.job_id)
            data.artifacts.append(record)
        return {ARTIFACTS_MEMBER}

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        for record in data.artifacts:
            new_id = ids.artifacts[record.id]
            file_name = record.file_name
            if file_name is not None and new_id != record.id:
                file_name = (
                    ChapterFiles(Path(".")).artifact_path(record.kind, record.title, new_id).name
                )
            session.add(
                Artifact(
                    id=new_id,
                    job_id=ids.jobs[record.job_id],
                    kind=record.kind,
                    book_id=ids.book,
                    chapter_id=ids.chapter(record.chapter_id),
                    title=record.title,
                    text=record.text,
                    data=record.data,
                    file_name=file_name,
                    created_at=record.created_at,
                )
            )
        session.flush()
        return {}


class _Quoted(Protocol):
    quote: str
    start: int
    end: int


def _check_chapters_known(
    what: str, chapter_ids: Iterable[str], chapters: Mapping[str, Any]
) -> None:
    """Per-chapter state (an extraction, an audit digest) only for chapters the archive holds."""
    if any(chapter_id not in chapters for chapter_id in chapter_ids):
        raise ArchiveRejected(f"{what} of a chapter the archive lacks")


def _check_quote(
    where: str, chapters: dict[str, ChapterData], chapter_id: str, revision: int, quoted: _Quoted
) -> None:
    """A quote must be the archived revision's text at its offsets (the catalog trusts them)."""
    chapter = chapters.get(chapter_id)
    text = chapter.texts.get(revision) if chapter is not None else None
    if text is None:
        raise ArchiveRejected(f"{where} quotes a chapter revision the archive lacks")
    if text[quoted.start : quoted.end] != quoted.quote:
        raise ArchiveRejected(f"{where}: its quote is not at its offsets in the text")


class BibleSection:
    """`bible.json`: the story bible — entities with their names and mentions per chapter,
    facts with their quotes (checked against the archived revision's text on load), the
    author's edits and tombstones, and which text of each chapter was extracted."""

    name = "bible"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        repo = BibleRepository(source.session)
        book_id = source.book.id
        names: dict[str, list[BibleAlias]] = {}
        for alias in repo.aliases(book_id):
            names.setdefault(alias.entity_id, []).append(alias)
        mentions = repo.alias_mentions(book_id)
        notes = notes_of_book(source.session, book_id)
        entities = [
            {
                "id": e.id,
                "kind": e.kind,
                "name": e.name,
                "origin": e.origin,
                "edited": e.edited,
                "deleted": e.deleted,
                "created_at": iso(e.created_at),
                "updated_at": iso(e.updated_at),
                "aliases": [
                    {"name": a.name, "origin": a.origin, "mentions": mentions.get(a.id, {})}
                    for a in names.get(e.id, [])
                ],
                "notes": [
                    {"text": n.text, "source": n.source, "created_at": iso(n.created_at)}
                    for n in notes.get(e.id, [])
                ],
            }
            for e in repo.entities(book_id, with_deleted=True)
        ]
        facts = [
            {
                "id": f.id,
                "entity_id": f.entity_id,
                "chapter_id": f.chapter_id,
                "revision": f.revision,
                "attribute": f.attribute,
                "value": f.value,
                "story_time": f.story_time,
                "quote": f.quote,
                "start": f.quote_start,
                "end": f.quote_end,
                "origin": f.origin,
                "pinned": f.pinned,
                "intentional": f.intentional,
                "edited": f.edited,
                "deleted": f.deleted,
                "signature": f.signature,
                "created_at": iso(f.created_at),
            }
            for f in repo.all_facts(book_id)
        ]
        extractions = [
            {
                "chapter_id": x.chapter_id,
                "content_hash": x.content_hash,
                "revision": x.revision,
                "extractor_version": x.extractor_version,
                "used_llm": x.used_llm,
                "entities": x.entities,
                "facts": x.facts,
                "dropped_quotes": x.dropped_quotes,
                "extracted_at": iso(x.extracted_at),
            }
            for x in repo.extractions(book_id)
        ]
        record = {"entities": entities, "facts": facts, "extractions": extractions}
        return {BIBLE_MEMBER: json_bytes(record)}

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        if BIBLE_MEMBER not in members:
            return set()
        record = _validate(BibleRecord, _json(members, BIBLE_MEMBER), BIBLE_MEMBER)
        chapters = {c.record.id: c for c in data.chapters}
        entity_ids: set[str] = set()
        keys: set[str] = set()
        for entity in record.entities:
            if entity.id in entity_ids:
                raise ArchiveRejected(f"{BIBLE_MEMBER}: entity {entity.id!r} appears twice")
            entity_ids.add(entity.id)
            for alias in entity.aliases:
                key = name_key(alias.name)
                if key in keys:
                    raise ArchiveRejected(
                        f"{BIBLE_MEMBER}: the name {alias.name!r} belongs to two entities"
                    )
                keys.add(key)
                unknown = set(alias.mentions) - set(chapters)
                if unknown:
                    raise ArchiveRejected(
                        f"{BIBLE_MEMBER}: mentions of {alias.name!r} in chapters the archive "
                        f"does not hold: {', '.join(sorted(unknown))}"
                    )
        fact_ids: set[str] = set()
        for fact in record.facts:
            where = f"{BIBLE_MEMBER}: fact {fact.id!r}"
            if fact.id in fact_ids:
                raise ArchiveRejected(f"{where} appears twice")
            fact_ids.add(fact.id)
            if fact.entity_id not in entity_ids:
                raise ArchiveRejected(f"{where} belongs to no entity of the archive")
            _check_quote(where, chapters, fact.chapter_id, fact.revision, fact)
        _check_chapters_known(
            f"{BIBLE_MEMBER}: extraction state",
            (e.chapter_id for e in record.extractions),
            chapters,
        )
        data.extra["bible"] = record
        return {BIBLE_MEMBER}

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        record = data.extra.get("bible")
        if not isinstance(record, BibleRecord):
            return {}
        fresh = ids.book != data.book_record.id  # a copy beside the original: new ids
        entity_ids = {e.id: new_short_id() if fresh else e.id for e in record.entities}
        for entity in record.entities:
            session.add(
                BibleEntity(
                    id=entity_ids[entity.id],
                    book_id=ids.book,
                    kind=entity.kind,
                    name=entity.name,
                    origin=entity.origin,
                    edited=entity.edited,
                    deleted=entity.deleted,
                    created_at=entity.created_at,
                    updated_at=entity.updated_at,
                )
            )
            session.flush()
            for alias in entity.aliases:
                row = BibleAlias(
                    book_id=ids.book,
                    entity_id=entity_ids[entity.id],
                    name=alias.name,
                    key=name_key(alias.name)[:200],
                    origin=alias.origin,
                )
                session.add(row)
                session.flush()
                for chapter_id, count in alias.mentions.items():
                    session.add(
                        BibleMention(
                            alias_id=row.id, chapter_id=ids.chapters[chapter_id], count=count
                        )
                    )
            for note in entity.notes:
                session.add(
                    BibleNote(
                        book_id=ids.book,
                        entity_id=entity_ids[entity.id],
                        text=note.text,
                        source=note.source,
                        created_at=note.created_at,
                    )
                )
        for fact in record.facts:
            session.add(
                BibleFact(
                    id=new_short_id(16) if fresh else fact.id,
                    book_id=ids.book,
                    entity_id=entity_ids[fact.entity_id],
                    chapter_id=ids.chapters[fact.chapter_id],
                    revision=fact.revision,
                    attribute=fact.attribute,
                    value=fact.value,
                    story_time=fact.story_time,
                    quote=fact.quote,
                    quote_start=fact.start,
                    quote_end=fact.end,
                    origin=fact.origin,
                    pinned=fact.pinned,
                    intentional=fact.intentional,
                    edited=fact.edited,
                    deleted=fact.deleted,
                    signature=fact.signature,
                    created_at=fact.created_at,
                )
            )
        for extraction in record.extractions:
            session.add(
                BibleExtraction(
                    chapter_id=ids.chapters[extraction.chapter_id],
                    book_id=ids.book,
                    content_hash=extraction.content_hash,
                    revision=extraction.revision,
                    extractor_version=extraction.extractor_version,
                    used_llm=extraction.used_llm,
                    entities=extraction.entities,
                    facts=extraction.facts,
                    dropped_quotes=extraction.dropped_quotes,
                    extracted_at=extraction.extracted_at,
                )
            )
        session.flush()
        return {}


class ContinuitySection:
    """`continuity.json`: the audit's findings with the author's marks (fix, ignore,
    intentional: verdicts an author should never have to give twice) and the digest of each
    chapter text the last audit read. Citations are checked against the archived revisions.

    A finding's signature names its chapters by id; in a copy beside the original (new ids) the
    findings and marks come across, and a plain re-run keeps them, but a forced re-run of the
    copy finds them anew, unmarked."""

    name = "continuity"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        repo = ContinuityRepository(source.session)
        book_id = source.book.id
        findings = [
            {
                "id": f.id,
                "signature": f.signature,
                "type": f.type,
                "severity": f.severity,
                "explanation": f.explanation,
                "entity": f.entity,
                "attribute": f.attribute,
                "status": f.status,
                "citations": f.citations,
                "created_at": iso(f.created_at),
                "updated_at": iso(f.updated_at),
            }
            for f in repo.findings(book_id)
        ]
        digests = [
            {
                "chapter_id": d.chapter_id,
                "content_hash": d.content_hash,
                "revision": d.revision,
                "audited_at": iso(d.audited_at),
            }
            for d in repo.digest_rows(book_id)
        ]
        if not findings and not digests:
            return {}
        return {CONTINUITY_MEMBER: json_bytes({"findings": findings, "digests": digests})}

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        if CONTINUITY_MEMBER not in members:
            return set()
        record = _validate(ContinuityRecord, _json(members, CONTINUITY_MEMBER), CONTINUITY_MEMBER)
        chapters = {c.record.id: c for c in data.chapters}
        seen: set[str] = set()
        for finding in record.findings:
            where = f"{CONTINUITY_MEMBER}: finding {finding.id!r}"
            if finding.id in seen or finding.signature in seen:
                raise ArchiveRejected(f"{where} appears twice")
            seen |= {finding.id, finding.signature}
            for cite in finding.citations:
                _check_quote(where, chapters, cite.chapter_id, cite.revision, cite)
        _check_chapters_known(
            f"{CONTINUITY_MEMBER}: audit state", (d.chapter_id for d in record.digests), chapters
        )
        data.extra["continuity"] = record
        return {CONTINUITY_MEMBER}

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        record = data.extra.get("continuity")
        if not isinstance(record, ContinuityRecord):
            return {}
        fresh = ids.book != data.book_record.id
        for finding in record.findings:
            citations = [
                {**cite.model_dump(), "chapter_id": ids.chapters[cite.chapter_id]}
                for cite in finding.citations
            ]
            session.add(
                ContinuityFinding(
                    id=new_short_id() if fresh else finding.id,
                    book_id=ids.book,
                    signature=finding.signature,
                    type=finding.type,
                    severity=finding.severity,
                    explanation=finding.explanation,
                    entity=finding.entity,
                    attribute=finding.attribute,
                    status=finding.status,
                    citations=citations,
                    chapter_ids="|".join(sorted({c["chapter_id"] for c in citations})),
                    created_at=finding.created_at,
                    updated_at=finding.updated_at,
                )
            )
        for digest in record.digests:
            session.add(
                ContinuityChapter(
                    chapter_id=ids.chapters[digest.chapter_id],
                    book_id=ids.book,
                    content_hash=digest.content_hash,
                    revision=digest.revision,
                    audited_at=digest.audited_at,
                )
            )
        session.flush()
        return {}


class FilesSection:
    """`files/<name>`: the book's files in the chapters folder (chapter mirrors and artifact
    files), byte for byte. Only names that belong to a chapter or artifact of this archive are
    accepted; a restore with new ids writes them afresh from the catalog rows instead."""

    name = "files"
    version = 1

    def export(self, source: ExportSource) -> dict[str, bytes]:
        members: dict[str, bytes] = {}
        for name in book_file_names(source.session, source.book.id):
            path = source.chapters_dir / name
            if path.is_file():
                members[FILES_PREFIX + name] = path.read_bytes()
        return members

    def load(self, members: dict[str, bytes], data: BookData, max_text_chars: int) -> set[str]:
        allowed = _expected_file_names(data)
        used: set[str] = set()
        for name in sorted(members):
            if not name.startswith(FILES_PREFIX):
                continue
            file_name = name.removeprefix(FILES_PREFIX)
            if file_name not in allowed:
                raise ArchiveRejected(
                    f"archive member {name!r} is not a file of this book's chapters or artifacts"
                )
            data.files[file_name] = members[name]
            used.add(name)
        return used

    def restore(self, session: Session, data: BookData, ids: IdMap) -> dict[str, bytes]:
        record = data.book_record
        same_ids = ids.book == record.id
        files: dict[str, bytes] = {}
        for chapter in data.chapters:
            name = f"{record.id}__{chapter.record.id}.md"
            if same_ids and name in data.files:
                files[name] = data.files[name]
            else:
                text = chapter.texts[chapter.record.current_revision]
                new_name = f"{ids.book}__{ids.chapters[chapter.record.id]}.md"
                files[new_name] = f"# {chapter.record.title}\n\n{text}\n".encode()
        for artifact in data.artifacts:
            if artifact.file_name is None:
                continue
            if same_ids and artifact.file_name in data.files:
                files[artifact.file_name] = data.files[artifact.file_name]
            else:
                path = ChapterFiles(Path(".")).artifact_path(
                    artifact.kind, artifact.title, ids.artifacts[artifact.id]
                )
                text = artifact.text if artifact.text.endswith("\n") else artifact.text + "\n"
                files[path.name] = text.encode()
        return files


def _expected_file_names(data: BookData) -> set[str]:
    book_id = data.book_record.id
    names = {f"{book_id}__{c.record.id}.md" for c in data.chapters}
    names |= {a.file_name for a in data.artifacts if a.file_name}
    return names


def book_file_names(session: Session, book_id: str) -> list[str]:
    """The book's files in the chapters folder: chapter mirrors, then artifact files."""
    rows = BookRowsRepository(session)
    names = [f"{book_id}__{c.id}.md" for c in rows.chapters(book_id)]
    names += [a.file_name for a in rows.artifacts(book_id) if a.file_name]
    return [n for n in names if "/" not in n and "\\" not in n and not n.startswith(".")]


# Restored in this order: rows a later section refers to come first.
SECTIONS: tuple[ArchiveSection, ...] = (
    BookSection(),
    ChaptersSection(),
    ArtifactsSection(),
    BibleSection(),
    ContinuitySection(),
    FilesSection(),
)


class SectionVersions:
    """The manifest's `sections`: {name: version}. Unknown or newer sections are refused."""

    KEY: ClassVar[str] = "sections"

    @staticmethod
    def of(sections: tuple[ArchiveSection, ...]) -> dict[str, int]:
        return {s.name: s.version for s in sections}

    @staticmethod
    def check(manifest: dict[str, Any], sections: tuple[ArchiveSection, ...]) -> None:
        declared = manifest.get(SectionVersions.KEY)
        if not isinstance(declared, dict):
            raise ArchiveRejected("the manifest does not list the archive's sections")
        known = SectionVersions.of(sections)
        for name, version in declared.items():
            if name not in known:
                raise ArchiveRejected(
                    f"the archive holds a {name!r} section this Copiloto cannot restore: update "
                    "Copiloto (restoring without it would lose that part of the book)"
                )
            if not isinstance(version, int) or version > known[name]:
                raise ArchiveRejected(
                    f"the archive's {name!r} section has version {version!r}, newer than this "
                    f"Copiloto reads ({known[name]}): update Copiloto"
                )
