"""`copiloto import | reindex | export` against the running API, as an author would use them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.core.manuscripts.parsing import parse_manuscript
from services.launcher.cli import main
from tests.conftest import Stack

BOOK = """# A chegada

Marina chegou à ilha num barco de pesca.

# A tempestade

Choveu três dias e o cais caiu.

# O mercado

No mercado vendiam peixe, farinha e rendas.
"""


def test_import_reindex_export_from_the_terminal(
    stack: Stack, api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a ilha.md"
    source.write_text(BOOK, encoding="utf-8")
    url = ["--api", stack.api_url]
    assert main(["import", str(source), "--new-book", "A Ilha", "--dry-run", *url]) == 0
    out = capsys.readouterr().out
    assert "3 chapters" in out and "A tempestade" in out
    book_id = out.split("book ", 1)[1].split(" ", 1)[0]

    assert main(["import", str(source), "--book", book_id, *url]) == 0
    captured = capsys.readouterr()
    assert "import: succeeded" in captured.err and "index: succeeded" in captured.err
    assert "[##############################] 100%" in captured.err
    assert len(api.get(f"/books/{book_id}/chapters").json()) == 3

    assert main(["reindex", book_id, *url]) == 0
    assert "Indexed all 3 chapters" in capsys.readouterr().err

    target = tmp_path / "out.epub"
    assert main(["export", book_id, "--format", "epub", "-o", str(target), *url]) == 0
    exported = parse_manuscript("out.epub", target.read_bytes())
    assert [c.title for c in exported.chapters] == ["A chegada", "A tempestade", "O mercado"]

    assert main(["import", str(tmp_path / "missing.md"), "--book", book_id, *url]) == 1
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    assert main(["import", str(tmp_path / "notes.pdf"), "--book", book_id, *url]) == 1
    assert "415" in capsys.readouterr().err
