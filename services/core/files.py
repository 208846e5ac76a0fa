"""Markdown mirrors of chapters and artifacts under DATA_DIR, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import ClassVar

from services.core.ids import is_valid_id, slugify


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ChapterFiles:
    """Names are built from server-made ids and slugs only, never from raw user text."""

    ARTIFACT_PREFIX: ClassVar[dict[str, str]] = {
        "suggestion": "sugest",
        "critique": "critica",
        "scene": "cena",
    }

    def __init__(self, chapters_dir: Path) -> None:
        self.root = chapters_dir

    def _inside(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve():
            raise ValueError(f"refusing to write outside {self.root}: {name!r}")
        return path

    def chapter_path(self, book_id: str, chapter_id: str) -> Path:
        if not (is_valid_id(book_id) and is_valid_id(chapter_id)):
            raise ValueError("book and chapter ids must be server-made ids")
        return self._inside(f"{book_id}__{chapter_id}.md")

    def artifact_path(self, kind: str, title: str, artifact_id: str) -> Path:
        if not is_valid_id(artifact_id):
            raise ValueError("artifact id must be a server-made id")
        prefix = self.ARTIFACT_PREFIX.get(kind, slugify(kind, 20))
        return self._inside(f"{prefix}_{slugify(title)}__{artifact_id}.md")

    def write_chapter(self, book_id: str, chapter_id: str, title: str, text: str) -> Path:
        path = self.chapter_path(book_id, chapter_id)
        atomic_write_text(path, f"# {title}\n\n{text}\n")
        return path

    def write_artifact(self, kind: str, title: str, artifact_id: str, text: str) -> Path:
        path = self.artifact_path(kind, title, artifact_id)
        atomic_write_text(path, text if text.endswith("\n") else text + "\n")
        return path
