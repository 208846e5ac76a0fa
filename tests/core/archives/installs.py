"""Installs for archive tests: a catalog (SQLite or PostgreSQL) and a data folder, plus a book
with revisions, metadata, artifacts and files, and snapshots to compare byte for byte."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.core.artifacts.models import Artifact
from services.core.bible import service as bible
from services.core.bible.extraction import ExtractedFact, extract_chapter
from services.core.bible.models import (
    BibleAlias,
    BibleEntity,
    BibleExtraction,
    BibleFact,
    BibleMention,
)
from services.core.bible.notes import BibleNote
from services.core.bible.schemas import EntityCreate, EntityUpdate
from services.core.books.models import Book
from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.models import Chapter, ChapterRevision
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import (
    current_text,
    get_chapter,
    save_new_chapter,
    set_metadata,
    update_chapter,
)
from services.core.config import Settings
from services.core.continuity.models import ContinuityChapter, ContinuityFinding
from services.core.continuity.repository import ContinuityRepository
from services.core.db import make_engine, make_session_factory, transaction
from services.core.files import ChapterFiles
from services.core.jobs.models import Job
from services.core.migrate import upgrade
from tests.conftest import fresh_postgres_database


@dataclass
class Install:
    settings: Settings
    sessions: sessionmaker[Session]


@contextmanager
def new_install(root: Path, kind: str, **settings: Any) -> Iterator[Install]:
    """A migrated catalog of `kind` (sqlite | postgresql) with its own data folder."""
    root.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def url() -> Iterator[str]:
        if kind == "sqlite":
            yield f"sqlite:///{root / 'catalog.db'}"  # outside DATA_DIR: its bytes are compared
        else:
            with fresh_postgres_database() as pg:
                yield pg

    with url() as database_url:
        upgrade(database_url)
        engine = make_engine(database_url)
        config = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATA_DIR=str(root / "data"),
            DATABASE_URL=database_url,
            **settings,
        )
        try:
            yield Install(config, make_session_factory(engine))
        finally:
            engine.dispose()


class RecordingMemory:
    """Stands in for Chroma in core tests (the API tests use the real one)."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_book(self, book_id: str) -> int:
        self.deleted.append(book_id)
        return 0


def make_book(install: Install, title: str = "Dom Casmurro") -> str:
    """Two chapters (one with three revisions and metadata), two artifacts, their files."""
    files = ChapterFiles(install.settings.chapters_dir)
    limit = install.settings.max_text_chars
    with transaction(install.sessions) as session:
        book = create_book(
            session, BookCreate(title=title, language="pt-BR", genre="romance", synopsis="Bento")
        )
        first = save_new_chapter(
            session, book_id=book.id, title="Do título", text="Uma noite destas, vindo da cidade…",
            max_chars=limit,
        )  # fmt: skip
        update_chapter(
            session, book_id=book.id, chapter_id=first.chapter.id, title=None,
            text="Uma noite destas, vindo da cidade para o Engenho Novo…",
            expected_revision=1, max_chars=limit,
        )  # fmt: skip
        third = update_chapter(
            session, book_id=book.id, chapter_id=first.chapter.id, title="Do título (II)",
            text="Uma noite destas encontrei no trem um rapaz que eu conheço de vista.\n\nVerso.",
            expected_revision=2, max_chars=limit, source="ai",
        )  # fmt: skip
        set_metadata(
            session, first.chapter.id, {"tone": "irônico", "characters": ["Bento", "Capitu"]},
            expected_hash=third.chapter.content_hash,
        )  # fmt: skip
        third.chapter.summary = "Bento conta como ganhou o apelido."
        second = save_new_chapter(
            session, book_id=book.id, title="Capitu",
            text="Capitu tinha olhos de ressaca, de cigana oblíqua e dissimulada.",
            max_chars=limit, source="import",
        )  # fmt: skip
        book_id = book.id
        chapters = [
            (first.chapter.id, third.revision.title, third.revision.text),
            (second.chapter.id, second.revision.title, second.revision.text),
        ]
        for n, (kind, chapter_id, data) in enumerate(
            [("suggestion", first.chapter.id, None), ("ideas", None, {"ideas": [{"t": "x"}]})]
        ):
            artifact_id = f"art{n}{book_id}"[:20]
            text = f"Artefato {n}: Bento e Capitu no quintal."
            file_name = (
                files.write_artifact(kind, f"Sugestão {n}", artifact_id, text).name
                if data is None
                else None
            )
            session.add(
                Artifact(
                    id=artifact_id, job_id=f"job-{n}-{book_id}", kind=kind, book_id=book_id,
                    chapter_id=chapter_id, title=f"Sugestão {n}", text=text, data=data,
                    file_name=file_name,
                )
            )  # fmt: skip
    for chapter_id, chapter_title, text in chapters:
        files.write_chapter(book_id, chapter_id, chapter_title, text)
    _make_bible(install, book_id, second.chapter.id)
    _make_audit(install, book_id)
    return book_id


def _make_audit(install: Install, book_id: str) -> None:
    """One finding the author marked intentional, and the audit's digests."""
    with transaction(install.sessions) as session:
        chapters = ChapterRepository(session).list_for_book(book_id)
        citations = []
        for chapter in chapters[:2]:
            revision = current_text(session, chapter)
            quote = revision.text.split(".")[0]
            citations.append(
                {
                    "chapter_id": chapter.id, "chapter_position": chapter.position,
                    "chapter_title": chapter.title, "revision": revision.number,
                    "quote": quote, "start": 0, "end": len(quote),
                }
            )  # fmt: skip
            ContinuityRepository(session).save_digest(
                book_id, chapter.id, chapter.content_hash, revision.number
            )
        session.add(
            ContinuityFinding(
                id=f"cf{book_id}"[:20], book_id=book_id, signature="s" * 64, type="fact",
                severity="high", explanation="Os olhos mudam de cor.", entity="Capitu",
                attribute="eye colour", status="intentional", citations=citations,
                chapter_ids="|".join(sorted(c["chapter_id"] for c in citations)),
            )
        )  # fmt: skip


def _make_bible(install: Install, book_id: str, chapter_id: str) -> None:
    """The second chapter's entities and one quoted fact, an author's entity, a tombstone."""
    with transaction(install.sessions) as session:
        chapter = get_chapter(session, chapter_id)
        revision = current_text(session, chapter)
        bible.create_entity(
            session, book_id, EntityCreate(kind="character", name="Capitolina", aliases=["Capitu"])
        )
        known = bible.known_entities(session, book_id)
        extraction = extract_chapter(revision.text, language="pt-BR", llm=None, known=known)
        quote = "Capitu tinha olhos de ressaca"
        start = revision.text.index(quote)
        extraction.facts = [
            ExtractedFact("Capitolina", "appearance", "olhos de ressaca", quote, start,
                          start + len(quote), None)
        ]  # fmt: skip
        bible.store_extraction(
            session, chapter=chapter, revision=revision.number,
            content_hash=chapter.content_hash, text=revision.text, extraction=extraction,
        )  # fmt: skip
        bible.create_entity(
            session, book_id, EntityCreate(kind="place", name="Engenho Novo", aliases=["Engenho"])
        )
        made = bible.create_entity(session, book_id, EntityCreate(kind="object", name="Trem"))
        bible.update_entity(session, book_id, made.id, EntityUpdate(kind="place"))
        session.add(  # a note from an imported lorebook
            BibleNote(book_id=book_id, entity_id=made.id, text="Leva ao Rio.", source="novelai")
        )


SKIP = {"chapter_revision": {"id"}}  # a serial: renumbered by the catalog it lands in


def book_rows(install: Install, book_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every catalog row of the book (not its jobs), as comparable dicts."""
    rows = _book_rows(install, book_id)
    rows.update(_bible_rows(install, book_id))
    with transaction(install.sessions) as session:
        for model in (ContinuityFinding, ContinuityChapter):
            found = session.scalars(select(model).where(model.book_id == book_id)).all()
            rows[model.__tablename__] = sorted(
                ({c.key: getattr(r, c.key) for c in r.__mapper__.column_attrs} for r in found),
                key=repr,
            )
    return rows


def _bible_rows(install: Install, book_id: str) -> dict[str, list[dict[str, Any]]]:
    """The book's story bible; an alias's serial id is replaced by its name."""
    with transaction(install.sessions) as session:
        aliases = session.scalars(select(BibleAlias).where(BibleAlias.book_id == book_id)).all()
        names = {a.id: a.name for a in aliases}
        mentions = session.scalars(
            select(BibleMention).where(BibleMention.alias_id.in_(list(names)))
        ).all()

        def rows(model: Any) -> list[dict[str, Any]]:
            found = session.scalars(select(model).where(model.book_id == book_id)).all()
            return sorted(
                ({c.key: getattr(r, c.key) for c in r.__mapper__.column_attrs} for r in found),
                key=repr,
            )

        return {
            "bible_entity": rows(BibleEntity),
            "bible_fact": rows(BibleFact),
            "bible_extraction": rows(BibleExtraction),
            "bible_alias": sorted(
                ({"entity_id": a.entity_id, "name": a.name, "key": a.key} for a in aliases),
                key=repr,
            ),
            "bible_mention": sorted((names[m.alias_id], m.chapter_id, m.count) for m in mentions),
            "bible_note": sorted(
                (
                    (n["entity_id"], n["text"], n["source"], n["created_at"])
                    for n in rows(BibleNote)
                ),
                key=repr,
            ),
        }


def _book_rows(install: Install, book_id: str) -> dict[str, list[dict[str, Any]]]:

    def plain(row: Any) -> dict[str, Any]:
        table = row.__table__
        return {
            c.key: getattr(row, c.key)
            for c in row.__mapper__.column_attrs
            if c.key not in SKIP.get(table.name, set())
        }

    with transaction(install.sessions) as session:
        chapters = session.scalars(select(Chapter).where(Chapter.book_id == book_id)).all()
        ids = [c.id for c in chapters]
        revisions = session.scalars(
            select(ChapterRevision).where(ChapterRevision.chapter_id.in_(ids))
        ).all()
        return {
            "book": [plain(b) for b in session.scalars(select(Book).where(Book.id == book_id))],
            "chapter": sorted((plain(c) for c in chapters), key=lambda r: r["id"]),
            "chapter_revision": sorted(
                (plain(r) for r in revisions), key=lambda r: (r["chapter_id"], r["number"])
            ),
            "artifact": sorted(
                (
                    plain(a)
                    for a in session.scalars(select(Artifact).where(Artifact.book_id == book_id))
                ),
                key=lambda r: r["id"],
            ),
        }


def catalog_rows(install: Install) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing changed" checks."""
    with transaction(install.sessions) as session:
        return {
            model.__tablename__: sorted(
                (
                    tuple(sorted((k, repr(v)) for k, v in vars(r).items() if not k.startswith("_")))
                    for r in session.scalars(select(model))
                ),
            )
            for model in (Book, Chapter, ChapterRevision, Artifact, Job)
        }


def data_files(install: Install) -> dict[str, str]:
    """SHA-256 of every file under DATA_DIR (hidden temporary files included)."""
    root = install.settings.data_dir
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def book_files(install: Install, book_id: str) -> dict[str, str]:
    return {name: digest for name, digest in data_files(install).items() if book_id in name}
