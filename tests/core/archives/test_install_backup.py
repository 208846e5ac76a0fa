"""Whole-install backups: taken while another connection keeps writing, restored into a fresh
install (SQLite with the online backup API, PostgreSQL with pg_dump/pg_restore)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from services.core.archives.install import backup_install, restore_install
from services.core.chapters.service import update_chapter
from services.core.db import transaction
from services.core.errors import Conflict, DomainError
from tests.core.archives.installs import book_files, book_rows, make_book, new_install


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_all_while_writing_then_restore_into_a_fresh_install(
    tmp_path: Path, kind: str
) -> None:
    with new_install(tmp_path / "a", kind) as source:
        book_id = make_book(source)
        rows = book_rows(source, book_id)
        chapter = max(rows["chapter"], key=lambda c: c["current_revision"])
        chapter_id = chapter["id"]
        stop = threading.Event()

        def keep_writing() -> None:  # the stack keeps running during the backup
            n = chapter["current_revision"]
            while not stop.is_set():
                with transaction(source.sessions) as session:
                    update_chapter(
                        session, book_id=book_id, chapter_id=chapter_id, title=None,
                        text=f"Versão {n}", expected_revision=None, max_chars=1000,
                    )  # fmt: skip
                n += 1

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            backup = backup_install(source.settings, tmp_path / "backup.zip")
        finally:
            stop.set()
            writer.join()
        assert backup.catalog == kind and backup.files == 3

        with new_install(tmp_path / "b", kind) as target:
            outcome = restore_install(target.settings, backup.path)
            assert outcome["books"] == 1
            restored = book_rows(target, book_id)
            # Every revision up to the snapshot, in order, with the first ones as made.
            assert restored["book"] == rows["book"]
            numbers = [
                r["number"] for r in restored["chapter_revision"] if r["chapter_id"] == chapter_id
            ]
            assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
            assert all(r in restored["chapter_revision"] for r in rows["chapter_revision"])
            assert restored["artifact"] == rows["artifact"]
            assert set(book_files(target, book_id)) == set(book_files(source, book_id))
            with pytest.raises(Conflict, match="--force"):
                restore_install(target.settings, backup.path)
            restore_install(target.settings, backup.path, force=True)
            assert book_rows(target, book_id) == restored


def test_restore_all_refuses_a_modified_backup(tmp_path: Path) -> None:
    with new_install(tmp_path / "a", "sqlite") as source:
        make_book(source)
        backup = backup_install(source.settings, tmp_path / "backup.zip")
    damaged = tmp_path / "damaged.zip"
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with new_install(tmp_path / "b", "sqlite") as target, pytest.raises(DomainError):
        restore_install(target.settings, damaged)
