"""Whole-book archive and restore of Dom Casmurro (148 chapters), core functions on SQLite.

The book is imported once and every chapter gets a second revision (296 revisions). Then in one
run, each timed 3 times (median):
  (a) the baseline: the Markdown export of the same book (current text only);
  (b) the archive: every revision, metadata and files, with the manifest's checksums;
  (c) reading and validating that archive (no writes);
  (d) a full restore (as a new book: rows in one transaction, files staged then renamed).
Prints sizes, times and the ratios to the baseline. No services are started.

    .venv/bin/python bench/archive.py
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from services.core.archives.container import ArchiveLimits
from services.core.archives.service import (
    build_book_archive,
    read_book_archive,
    restore_book_archive,
)
from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import update_chapter
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, transaction
from services.core.files import ChapterFiles
from services.core.manuscripts.exporting import export_book
from services.core.manuscripts.parsing import parse_manuscript
from services.core.manuscripts.service import book_for_export, file_sha256, save_manuscript
from services.core.migrate import upgrade

# ../shared beside the checkout (a git worktree sits one level deeper).
CORPUS = next(
    (
        p / "shared" / "corpus" / "dom-casmurro.txt"
        for p in Path(__file__).resolve().parents[2:4]
        if (p / "shared" / "corpus").is_dir()
    ),
    Path("../shared/corpus/dom-casmurro.txt"),
)


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalog.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, DATA_DIR=str(Path(tmp) / "data"), DATABASE_URL=url)  # type: ignore[call-arg]
        sessions = make_session_factory(make_engine(url))
        data = CORPUS.read_bytes()
        manuscript = parse_manuscript(CORPUS.name, data, language="pt-BR")
        files = ChapterFiles(settings.chapters_dir)
        with transaction(sessions) as session:
            book_id = create_book(session, BookCreate(title="Dom Casmurro")).id
            save_manuscript(
                session, book_id, file_sha256(data), manuscript, max_chars=settings.max_text_chars
            )
            for chapter in ChapterRepository(session).list_for_book(book_id):
                saved = update_chapter(
                    session, book_id=book_id, chapter_id=chapter.id, title=None,
                    text=f"{manuscript.chapters[chapter.position - 1].text}\n\nRevisto.",
                    expected_revision=1, max_chars=settings.max_text_chars,
                )  # fmt: skip
                files.write_chapter(book_id, chapter.id, chapter.title, saved.revision.text)

        def export_md() -> bytes:
            with transaction(sessions) as session:
                info, chapters = book_for_export(session, book_id)
            return export_book(info, chapters, "md")

        def archive() -> bytes:
            with transaction(sessions) as session:
                return build_book_archive(session, book_id, settings.chapters_dir)[1]

        md, zipped = export_md(), archive()
        limits = ArchiveLimits.from_settings(settings)
        t_md = timed(export_md)
        t_zip = timed(archive)
        t_read = timed(lambda: read_book_archive(zipped, limits, settings.max_text_chars))
        t_restore = timed(
            lambda: restore_book_archive(sessions, zipped, settings=settings, mode="as_new")
        )
    print(f"Dom Casmurro: {len(manuscript.chapters)} chapters, 2 revisions each")
    print(f"machine: {platform.machine()}, {platform.python_version()}")
    print(f"(a) Markdown export (baseline)  {len(md):>10,} bytes  {t_md * 1000:8.1f} ms")
    print(
        f"(b) book archive                {len(zipped):>10,} bytes  {t_zip * 1000:8.1f} ms"
        f"  ({len(zipped) / len(md):.2f}x size, {t_zip / t_md:.1f}x time)"
    )
    print(f"(c) read + validate archive                      {t_read * 1000:8.1f} ms"
          f"  ({t_read / t_md:.1f}x)")  # fmt: skip
    print(f"(d) restore (as a new book)                      {t_restore * 1000:8.1f} ms"
          f"  ({t_restore / t_md:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
