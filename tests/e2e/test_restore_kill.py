"""`kill -9` of the API in the middle of a restore: no half-restored book is ever visible.

The restore of a long book is killed once its files are being staged, i.e. after every row was
inserted and before the commit. A reader polling the catalog throughout sees the book either
not at all or whole; after the kill it is not there, no chapter file is either, and the same
archive restores fine on a restarted API."""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from pathlib import Path

import httpx
from sqlalchemy import func, select

from services.core.archives.service import build_book_archive
from services.core.archives.trash import purge_book, trash_book
from services.core.books.models import Book
from services.core.chapters.models import Chapter
from services.core.chapters.service import save_new_chapter
from services.core.db import transaction
from services.launcher.cli import api_argv
from services.launcher.processes import ProcessGroup, http_ok, wait_until
from services.launcher.stack import free_port
from tests.conftest import claim_redis_db, release_redis_db
from tests.core.archives.installs import Install, RecordingMemory, new_install

CHAPTERS = 500


def long_book(install: Install) -> tuple[str, bytes]:
    from services.core.books.schemas import BookCreate
    from services.core.books.service import create_book

    text = "Capitu olhava o mar. " * 100
    with transaction(install.sessions) as session:
        book_id = create_book(session, BookCreate(title="Longo")).id
        for n in range(CHAPTERS):
            save_new_chapter(
                session, book_id=book_id, title=f"Capítulo {n}", text=text, max_chars=10_000
            )
    with transaction(install.sessions) as session:
        _, data = build_book_archive(session, book_id, install.settings.chapters_dir)
        trash_book(session, book_id, confirm="Longo")
    s = install.settings
    purge_book(
        install.sessions,
        book_id,
        chapters_dir=s.chapters_dir,
        uploads_dir=s.uploads_dir,
        memory=RecordingMemory(),
    )
    return book_id, data


def start_api(group: ProcessGroup, install: Install, redis_url: str) -> tuple[str, object]:
    port = free_port()
    env = {
        "DATA_DIR": str(install.settings.data_dir),
        "DATABASE_URL": install.settings.database_url,
        "REDIS_URL": redis_url,
        "CHROMA_HOST": "",
        "API_PORT": str(port),
    }
    from services.core.config import Settings

    proc = group.start("api-restore", api_argv(Settings(_env_file=None, **env)), env)  # type: ignore[call-arg]
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/health"), timeout=60, what="api", proc=proc)
    return url, proc


def test_kill_9_during_a_restore_leaves_no_half_restored_book(
    tmp_path: Path, redis_base: str, logs_dir: Path
) -> None:
    redis_url = claim_redis_db(redis_base)
    group = ProcessGroup(logs_dir / "restore-kill")
    try:
        with new_install(tmp_path, "sqlite") as install:
            book_id, data = long_book(install)
            url, proc = start_api(group, install, redis_url)
            chapters_dir = install.settings.chapters_dir
            seen: list[tuple[int, int]] = []
            stop = threading.Event()

            def watch() -> None:  # what any other reader of the catalog would see
                while not stop.is_set():
                    with transaction(install.sessions) as session:
                        books = session.scalar(select(func.count()).where(Book.id == book_id))
                        chapters = session.scalar(
                            select(func.count()).where(Chapter.book_id == book_id)
                        )
                    seen.append((int(books or 0), int(chapters or 0)))
                    time.sleep(0.01)

            def restore() -> None:
                # Killed: no answer comes.
                with httpx.Client(base_url=url, timeout=120) as client, suppress(httpx.HTTPError):
                    client.post("/books/restore", files={"file": ("a.zip", data)})

            watcher = threading.Thread(target=watch)
            watcher.start()
            request = threading.Thread(target=restore)
            request.start()
            deadline = time.monotonic() + 120
            # Files are staged after every row is inserted and before the commit.
            while not any(p.name.startswith(".") for p in chapters_dir.glob("*.tmp")):
                assert time.monotonic() < deadline, "the restore never reached its files"
                assert proc.poll() is None  # type: ignore[attr-defined]
                time.sleep(0.005)
            proc.kill()  # type: ignore[attr-defined]
            proc.wait()  # type: ignore[attr-defined]
            request.join()
            time.sleep(0.2)
            stop.set()
            watcher.join()

            assert all(s in ((0, 0), (1, CHAPTERS)) for s in seen), set(seen)
            assert seen[-1] == (0, 0)
            assert not [p for p in chapters_dir.glob("*.md") if book_id in p.name]

            url, _ = start_api(group, install, redis_url)
            with httpx.Client(base_url=url, timeout=300) as client:
                restored = client.post("/books/restore", files={"file": ("a.zip", data)})
                assert restored.status_code == 201, restored.text
                listed = client.get(f"/books/{book_id}/chapters").json()
            assert len(listed) == CHAPTERS
            assert len([p for p in chapters_dir.glob("*.md") if book_id in p.name]) == CHAPTERS
    finally:
        group.stop()
        release_redis_db(redis_url)
