"""Book archives round trip exactly: same ids, revisions, timestamps, artifacts and files, on
SQLite and PostgreSQL and from one to the other; the trash hides and gives back identically."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from services.core.archives import trash
from services.core.archives.sections import SECTIONS, ArtifactsSection
from services.core.archives.service import (
    build_book_archive,
    restore_book_archive,
)
from services.core.books.service import get_book, list_books
from services.core.chapters.service import get_chapter
from services.core.db import transaction, utcnow
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.jobs.models import Job
from tests.core.archives.installs import (
    Install,
    RecordingMemory,
    book_files,
    book_rows,
    catalog_rows,
    data_files,
    make_book,
    new_install,
)


def archive_of(install: Install, book_id: str) -> bytes:
    with transaction(install.sessions) as session:
        _, data = build_book_archive(session, book_id, install.settings.chapters_dir)
    return data


def purge(install: Install, book_id: str, memory: RecordingMemory | None = None) -> None:
    with transaction(install.sessions) as session:
        title = get_book(session, book_id).title
        trash.trash_book(session, book_id, confirm=title)
    s = install.settings
    trash.purge_book(
        install.sessions,
        book_id,
        chapters_dir=s.chapters_dir,
        uploads_dir=s.uploads_dir,
        memory=memory or RecordingMemory(),
    )


@pytest.mark.parametrize(
    ("source_kind", "target_kind"),
    [
        ("sqlite", "sqlite"),
        ("postgresql", "postgresql"),
        ("sqlite", "postgresql"),
        ("postgresql", "sqlite"),
    ],
)
def test_archive_purge_restore_gives_back_every_row_and_file(
    tmp_path: Path, source_kind: str, target_kind: str
) -> None:
    with new_install(tmp_path / "a", source_kind) as source:
        book_id = make_book(source)
        rows, files = book_rows(source, book_id), book_files(source, book_id)
        data = archive_of(source, book_id)
        memory = RecordingMemory()
        purge(source, book_id, memory)
        assert memory.deleted == [book_id]
        assert rows["bible_fact"] and rows["bible_mention"] and rows["bible_extraction"]
        assert rows["bible_note"]
        assert all(not v for v in book_rows(source, book_id).values())
        assert book_files(source, book_id) == {}
        if source_kind == target_kind:
            target_memory = RecordingMemory()
            restored = restore_book_archive(
                source.sessions, data, settings=source.settings, memory=target_memory
            )
            assert restored.book_id == book_id and target_memory.deleted == [book_id]
            assert book_rows(source, book_id) == rows
            assert book_files(source, book_id) == files
            return
        with new_install(tmp_path / "b", target_kind) as target:
            restored = restore_book_archive(target.sessions, data, settings=target.settings)
            assert (restored.chapters, restored.revisions, restored.artifacts) == (2, 4, 2)
            assert book_rows(target, book_id) == rows
            assert book_files(target, book_id) == files
            # ... and the reindex is queued with the rows, forced (memory here holds nothing).
            with transaction(target.sessions) as session:
                job = session.get(Job, restored.reindex_job_id)
                assert job is not None and job.kind == "reindex_book"
                assert job.book_id == book_id and job.params["force"] is True


def test_archive_is_plain_json_and_markdown_with_a_manifest(tmp_path: Path) -> None:
    with new_install(tmp_path, "sqlite") as install:
        book_id = make_book(install)
        with zipfile.ZipFile(io.BytesIO(archive_of(install, book_id))) as archive:
            names = archive.namelist()
            manifest = json.loads(archive.read("manifest.json"))
            book = json.loads(archive.read("book.json"))
            revision_md = [n for n in names if n.endswith("/revisions/0003.md")]
            assert revision_md and archive.read(revision_md[0]).decode().startswith(
                "Uma noite destas encontrei"
            )
    assert names[0] == "manifest.json"
    assert manifest["format"] == "copiloto-book-archive" and manifest["format_version"] == 1
    assert manifest["app_version"] and manifest["created_at"]
    assert manifest["sections"] == {s.name: s.version for s in SECTIONS}
    assert set(manifest["members"]) == set(names) - {"manifest.json"}
    assert all(len(m["sha256"]) == 64 and m["size"] >= 0 for m in manifest["members"].values())
    assert book["id"] == book_id and book["title"] == "Dom Casmurro"
    assert any(n.startswith("files/") and n.endswith(".md") for n in names)


def test_restoring_an_existing_book_asks_instead_of_merging(tmp_path: Path) -> None:
    with new_install(tmp_path, "sqlite") as install:
        book_id = make_book(install)
        data = archive_of(install, book_id)
        before, files = catalog_rows(install), data_files(install)
        with pytest.raises(Conflict, match=r"mode=as_new.*mode=replace"):
            restore_book_archive(install.sessions, data, settings=install.settings)
        with pytest.raises(InvalidInput, match="exact title"):
            restore_book_archive(
                install.sessions, data, settings=install.settings, mode="replace", confirm="x"
            )
        assert catalog_rows(install) == before and data_files(install) == files

        copy = restore_book_archive(
            install.sessions, data, settings=install.settings, mode="as_new"
        )
        assert copy.book_id != book_id
        original, twin = book_rows(install, book_id), book_rows(install, copy.book_id)
        assert len(twin["chapter_revision"]) == len(original["chapter_revision"]) == 4
        assert {c["id"] for c in twin["chapter"]}.isdisjoint({c["id"] for c in original["chapter"]})
        assert [r["text"] for r in twin["chapter_revision"]] != [] and sorted(
            r["text"] for r in twin["chapter_revision"]
        ) == sorted(r["text"] for r in original["chapter_revision"])
        assert len(book_files(install, copy.book_id)) == 2  # the chapter mirrors, new names

        # Replace: the book is changed meanwhile, then put back as archived.
        with transaction(install.sessions) as session:
            get_book(session, book_id).synopsis = "changed"
        replaced = restore_book_archive(
            install.sessions,
            data,
            settings=install.settings,
            mode="replace",
            confirm="Dom Casmurro",
        )
        assert replaced.replaced and book_rows(install, book_id) == original


def test_a_restore_failing_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The single-transaction design: chapters are already inserted (flushed) when the
    artifacts fail; the catalog and the data folder end as they began (a kill -9 at that point
    loses the uncommitted transaction the same way)."""
    with new_install(tmp_path, "sqlite") as install:
        book_id = make_book(install)
        data = archive_of(install, book_id)
        purge(install, book_id)
        before, files = catalog_rows(install), data_files(install)

        def explode(*_: object) -> dict[str, bytes]:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(ArtifactsSection, "restore", explode)
        with pytest.raises(RuntimeError, match="disk on fire"):
            restore_book_archive(install.sessions, data, settings=install.settings)
        assert catalog_rows(install) == before
        assert data_files(install) == files  # no mirror, no staged .tmp file


def test_trash_hides_the_book_and_gives_it_back_identical(tmp_path: Path) -> None:
    with new_install(tmp_path, "postgresql", TRASH_DAYS="30") as install:
        book_id = make_book(install)
        rows, files = book_rows(install, book_id), book_files(install, book_id)
        with transaction(install.sessions) as session:
            chapter_id = rows["chapter"][0]["id"]
            with pytest.raises(InvalidInput, match="exact title"):
                trash.trash_book(session, book_id, confirm="dom casmurro")
            trash.trash_book(session, book_id, confirm="Dom Casmurro")
        with transaction(install.sessions) as session:
            assert book_id not in [b.id for b in list_books(session)]
            with pytest.raises(NotFound):
                get_book(session, book_id)
            with pytest.raises(NotFound):
                get_chapter(session, chapter_id)
            (item,) = trash.list_trash(session, trash_days=30)
            assert item.book.id == book_id and item.book.deleted_at is not None
            assert item.purge_after - item.book.deleted_at == timedelta(days=30)
            trash.restore_from_trash(session, book_id)
        assert book_rows(install, book_id) == rows and book_files(install, book_id) == files
        with transaction(install.sessions) as session, pytest.raises(NotFound):
            trash.restore_from_trash(session, book_id)


def test_books_past_trash_days_are_purged(tmp_path: Path) -> None:
    with new_install(tmp_path, "sqlite") as install:
        old, recent = make_book(install, "Old"), make_book(install, "Recent")
        with transaction(install.sessions) as session:
            trash.trash_book(session, old, confirm="Old")
            trash.trash_book(session, recent, confirm="Recent")
        s = install.settings
        memory = RecordingMemory()
        purged = trash.purge_expired(
            install.sessions,
            trash_days=30,
            chapters_dir=s.chapters_dir,
            uploads_dir=s.uploads_dir,
            memory=memory,
            now=utcnow() + timedelta(days=30, seconds=-60),
        )
        assert purged == [] and memory.deleted == []
        with transaction(install.sessions) as session:
            # Deleted long ago: only that one is past TRASH_DAYS.
            from services.core.archives.repository import BookRowsRepository

            BookRowsRepository(session).set_deleted_at(old, utcnow() - timedelta(days=31))
        purged = trash.purge_expired(
            install.sessions,
            trash_days=30,
            chapters_dir=s.chapters_dir,
            uploads_dir=s.uploads_dir,
            memory=memory,
        )
        assert purged == [old] and memory.deleted == [old]
        assert book_rows(install, old)["book"] == [] and book_files(install, old) == {}
        assert book_rows(install, recent)["book"] and book_files(install, recent)
