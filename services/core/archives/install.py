"""Whole-install backups: a consistent snapshot of the catalog plus the data files, taken while
the stack runs, and its restore into a fresh install.

The catalog is copied with SQLite's online backup API (a consistent copy while API and workers
keep writing) or `pg_dump` (one repeatable-read snapshot). The chapter files are copied first,
the catalog second, so every file's chapter is in the snapshot; a restore rewrites each
chapter's mirror from the restored catalog, so rows saved in between leave no stale mirror.
Memory (Chroma) is not in the backup: it is rebuilt from the catalog by a reindex, and the
restore marks every chapter as not indexed so a plain reindex rebuilds them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from services.core.archives.container import (
    ArchiveRejected,
    app_version,
    check_member_name,
    sha256,
)
from services.core.books.repository import BookRepository
from services.core.chapters.models import Chapter
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, transaction
from services.core.errors import Conflict, DomainError, InvalidInput
from services.core.files import ChapterFiles
from services.core.migrate import upgrade

log = logging.getLogger(__name__)

INSTALL_FORMAT = "copiloto-install-backup"
INSTALL_FORMAT_VERSION = 1
INSTALL_MANIFEST = "install-manifest.json"
# Folders of DATA_DIR in a backup: chapter/artifact files and uploads waiting for an import.
# Not chroma/ (rebuilt by a reindex), not logs/, not the SQLite file (copied consistently).
DATA_FOLDERS = ("chapters", "uploads")


class BackupError(DomainError):
    status_code = 422


@dataclass(frozen=True)
class InstallBackup:
    path: Path
    catalog: str  # sqlite | postgresql
    files: int
    size: int


def catalog_kind(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend!r} catalog (SQLite or PostgreSQL only)")
    return backend


def _libpq_url(database_url: str) -> str:
    """pg_dump wants a libpq URL: the SQLAlchemy driver suffix (`+psycopg`) goes."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client tools "
            "(apt-get install postgresql-client) of the server's major version or newer"
        )
    return found


def _data_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    for folder in DATA_FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            # Hidden names are temporary files of a write in progress.
            if not path.is_file() or path.is_symlink() or path.name.startswith("."):
                continue
            name = f"data/{path.relative_to(data_dir).as_posix()}"
            try:
                check_member_name(name)
            except ArchiveRejected:
                # Not a name Copiloto writes (made by hand): a restore would refuse it.
                log.warning("not in the backup: %s (unexpected file name)", path)
                continue
            yield name, path


def backup_install(settings: Settings, output: Path) -> InstallBackup:
    """Write the backup zip to `output` (atomically: a partial file never has its name)."""
    kind = catalog_kind(settings.database_url)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    members: dict[str, dict[str, Any]] = {}
    try:
        with (
            tempfile.TemporaryDirectory() as work,
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
        ):
            files = 0
            for name, path in _data_files(settings.data_dir):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # removed meanwhile (an import finished)
                    continue
                zf.writestr(name, data)
                members[name] = {"sha256": sha256(data), "size": len(data)}
                files += 1
            catalog_member = "catalog.sqlite" if kind == "sqlite" else "catalog.pgdump"
            snapshot = Path(work) / catalog_member
            if kind == "sqlite":
                _sqlite_snapshot(settings.database_url, snapshot)
            else:
                _pg_dump(settings.database_url, snapshot)
            zf.write(snapshot, catalog_member)
            members[catalog_member] = {
                "sha256": _file_sha256(snapshot),
                "size": snapshot.stat().st_size,
            }
            manifest = {
                "format": INSTALL_FORMAT,
                "format_version": INSTALL_FORMAT_VERSION,
                "app_version": app_version(),
                "created_at": datetime.now(UTC).isoformat(),
                "catalog": {"kind": kind, "member": catalog_member},
                "not_included": "memory (Chroma): rebuild it with a reindex after restoring",
                "members": members,
            }
            zf.writestr(INSTALL_MANIFEST, json.dumps(manifest, indent=2))
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return InstallBackup(output, kind, files, output.stat().st_size)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return _stream_sha256(handle)


def _stream_sha256(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := handle.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def _sqlite_snapshot(database_url: str, target: Path) -> None:
    source_path = make_url(database_url).database
    if not source_path or not Path(source_path).exists():
        raise BackupError(f"no SQLite catalog at {source_path!r}")
    # The online backup API copies a consistent state while other connections keep writing.
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:
        with dest:
            source.backup(dest)
    finally:
        dest.close()
        source.close()


def _pg_dump(database_url: str, target: Path) -> None:
    completed = subprocess.run(
        [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
         f"--file={target}", f"--dbname={_libpq_url(database_url)}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise BackupError(f"pg_dump failed: {completed.stderr.strip()[:500]}")


def install_is_empty(settings: Settings) -> bool:
    """No book in the catalog (it may not even exist yet) and no file in the data folders."""
    if any(True for _ in _data_files(settings.data_dir)):
        return False
    engine = make_engine(settings.database_url)
    try:
        upgrade(settings.database_url)
        with transaction(make_session_factory(engine)) as session:
            return BookRepository(session).count() == 0
    finally:
        engine.dispose()


def restore_install(settings: Settings, backup: Path, *, force: bool = False) -> dict[str, Any]:
    """Bring this install to the backup's state. Stop the API and workers first."""
    kind = catalog_kind(settings.database_url)
    try:
        archive = zipfile.ZipFile(backup)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupError(f"not a readable install backup: {exc}") from None
    with archive, tempfile.TemporaryDirectory() as work:
        manifest = _check_backup(archive)
        catalog = manifest["catalog"]
        if catalog["kind"] != kind:
            raise BackupError(
                f"the backup holds a {catalog['kind']} catalog and this install uses {kind}: "
                "restore it into the same kind of catalog (or move books one by one with "
                "their archives, which restore into either)"
            )
        if not force and not install_is_empty(settings):
            raise Conflict(
                "this install already has books or data files: restore --all only into a fresh "
                "install, or pass --force to replace everything in it"
            )
        snapshot = Path(work) / catalog["member"]
        with archive.open(catalog["member"]) as src, snapshot.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        if kind == "sqlite":
            _restore_sqlite(settings.database_url, snapshot)
        else:
            _pg_restore(settings.database_url, snapshot)
        for folder in DATA_FOLDERS:
            shutil.rmtree(settings.data_dir / folder, ignore_errors=True)
        files = 0
        for name in manifest["members"]:
            if not name.startswith("data/"):
                continue
            target = (settings.data_dir / name.removeprefix("data/")).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(name) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            files += 1
    upgrade(settings.database_url)  # a backup of an older version gets the newer schema
    books, mirrors = _reconcile(settings)
    return {"catalog": kind, "books": books, "files": files, "mirrors_rewritten": mirrors}


def _check_backup(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(INSTALL_MANIFEST))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise BackupError(f"not a Copiloto install backup ({INSTALL_MANIFEST}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != INSTALL_FORMAT:
        raise BackupError("not a Copiloto install backup")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > INSTALL_FORMAT_VERSION:
        raise BackupError(
            f"the backup has format version {version!r}, newer than this Copiloto reads "
            f"({INSTALL_FORMAT_VERSION}): update Copiloto"
        )
    names = {i.filename for i in archive.infolist()} - {INSTALL_MANIFEST}
    listed = manifest.get("members") or {}
    if names != set(listed):
        raise BackupError("the backup's members do not match its manifest: it was modified")
    for name, entry in listed.items():
        check_member_name(name)
        try:
            with archive.open(name) as handle:
                digest = _stream_sha256(handle)
        except (zipfile.BadZipFile, OSError, zlib.error) as exc:
            raise BackupError(f"backup member {name!r} is corrupt: {exc}") from None
        if digest != entry.get("sha256"):
            raise BackupError(f"checksum mismatch for backup member {name!r}")
    catalog = manifest.get("catalog") or {}
    if catalog.get("member") not in listed:
        raise BackupError("the backup has no catalog")
    return manifest


def _restore_sqlite(database_url: str, snapshot: Path) -> None:
    path = make_url(database_url).database
    if not path:
        raise InvalidInput("DATABASE_URL names no SQLite file")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restore")
    shutil.copyfile(snapshot, staged)
    for suffix in ("-wal", "-shm"):  # the old file's journal must not replay onto the new one
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)


def _pg_restore(database_url: str, snapshot: Path) -> None:
    completed = subprocess.run(
        [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", f"--dbname={_libpq_url(database_url)}", str(snapshot)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise BackupError(f"pg_restore failed: {completed.stderr.strip()[:500]}")


def _reconcile(settings: Settings) -> tuple[int, int]:
    """Mirrors from the restored catalog; every chapter marked not indexed (memory is rebuilt
    by a reindex). Returns (books, mirrors written)."""
    engine = make_engine(settings.database_url)
    files = ChapterFiles(settings.chapters_dir)
    written = 0
    try:
        with transaction(make_session_factory(engine)) as session:
            books = BookRepository(session).count()
            for chapter in session.scalars(select(Chapter)).all():
                text = current_text(session, chapter).text
                files.write_chapter(chapter.book_id, chapter.id, chapter.title, text)
                written += 1
            ChapterRepository(session).forget_indexing(book_id=None)
    finally:
        engine.dispose()
    return books, written
