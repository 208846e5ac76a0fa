"""`copiloto backup | restore | delete | trash` as an author (and an admin, with --all) uses them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.core.db import make_engine, make_session_factory
from services.launcher.cli import main
from tests.conftest import Stack
from tests.core.archives.installs import Install, book_rows, make_book, new_install


def test_backup_delete_purge_restore_from_the_terminal(
    stack: Stack, api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--api", stack.api_url]
    # Made straight in the stack's catalog: saves through the API queue slow LLM summaries.
    catalog = Install(
        stack.settings, make_session_factory(make_engine(stack.settings.database_url))
    )
    book_id = make_book(catalog, "Terminal")
    chapter_id = book_rows(catalog, book_id)["chapter"][0]["id"]
    archive = tmp_path / "terminal.zip"
    assert main(["backup", book_id, "-o", str(archive), *url]) == 0
    assert archive.stat().st_size > 0
    assert main(["delete", book_id, "--confirm", "terminal", *url]) == 1
    assert "exact title" in capsys.readouterr().err
    assert main(["delete", book_id, "--confirm", "Terminal", *url]) == 0
    assert main(["trash", "list", *url]) == 0
    assert f"{book_id}  deleted" in capsys.readouterr().out
    assert main(["trash", "restore", book_id, *url]) == 0
    assert api.get(f"/books/{book_id}").status_code == 200
    assert main(["delete", book_id, "--confirm", "Terminal", *url]) == 0
    assert main(["trash", "purge", book_id, *url]) == 0
    assert api.get(f"/chapters/{chapter_id}").status_code == 404

    assert main(["restore", str(archive), *url]) == 0
    captured = capsys.readouterr()
    assert f"book {book_id} restored: Terminal" in captured.out
    assert "index: succeeded" in captured.err
    assert api.get(f"/chapters/{chapter_id}").json()["in_memory"] is True
    assert main(["restore", str(archive), *url]) == 1
    assert "409" in capsys.readouterr().err
    assert main(["restore", str(archive), "--as-new", "--no-wait", *url]) == 0


def test_backup_all_and_restore_all_from_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "install.zip"
    with new_install(tmp_path / "a", "sqlite") as source:
        book_id = make_book(source)
        rows = book_rows(source, book_id)
        monkeypatch.setenv("DATA_DIR", str(source.settings.data_dir))
        monkeypatch.setenv("DATABASE_URL", source.settings.database_url)
        assert main(["backup", "--all", "-o", str(backup)]) == 0
        assert "sqlite catalog snapshot and 3 data files" in capsys.readouterr().out
    with new_install(tmp_path / "b", "sqlite") as target:
        monkeypatch.setenv("DATA_DIR", str(target.settings.data_dir))
        monkeypatch.setenv("DATABASE_URL", target.settings.database_url)
        assert main(["restore", "--all", str(backup)]) == 0
        assert "1 books" in capsys.readouterr().out
        assert book_rows(target, book_id) == rows
        assert main(["restore", "--all", str(backup)]) == 1
        assert "--force" in capsys.readouterr().err
        assert main(["restore", "--all", "--force", str(backup)]) == 0
