"""Server-made ids, slugs and the chapter file mirror never escape DATA_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.files import ChapterFiles, atomic_write_text
from services.core.ids import is_valid_id, new_short_id, slugify


def test_ids_and_slugs() -> None:
    ident = new_short_id()
    assert is_valid_id(ident) and len(ident) == 12
    for bad in ("../etc", "a/b", "A", "", "a__b/..", "x" * 65, "a\x00b", "/abs"):
        assert not is_valid_id(bad), bad
    assert slugify("O Começo: Capítulo 1!") == "o-comeco-capitulo-1"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("???") == "untitled"


def test_mirror_names_stay_inside_the_folder(tmp_path: Path) -> None:
    files = ChapterFiles(tmp_path / "chapters")
    path = files.write_chapter("book1", "chap1", "Título", "Texto")
    assert path.name == "book1__chap1.md"
    assert path.read_text(encoding="utf-8") == "# Título\n\nTexto\n"
    artifact = files.write_artifact("suggestion", "../../O fim", "abc123", "sugestão")
    assert artifact.parent == (tmp_path / "chapters").resolve()
    assert artifact.name == "sugest_o-fim__abc123.md"
    with pytest.raises(ValueError):
        files.write_chapter("../x", "chap1", "t", "x")
    with pytest.raises(ValueError):
        files.write_artifact("suggestion", "t", "../evil", "x")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "book1__chap1.md",
        "sugest_o-fim__abc123.md",
    ]


def test_atomic_write_replaces_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "f.md"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.md"]
