"""Manuscripts through the API: preview, import (idempotent), export round trips, bad files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.job_client import succeeded

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS} (../shared/corpus)")
    return path.read_bytes()


def new_book(api: httpx.Client, title: str, language: str = "pt-BR") -> str:
    response = api.post("/books", json={"title": title, "language": language})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def upload(
    api: httpx.Client, book_id: str, name: str, data: bytes, **params: Any
) -> httpx.Response:
    return api.post(
        f"/books/{book_id}/import",
        files={"file": (name, data, "application/octet-stream")},
        params={k: str(v).lower() for k, v in params.items()},
    )


def imported(api: httpx.Client, book_id: str, name: str, data: bytes) -> dict[str, Any]:
    response = upload(api, book_id, name, data, reindex=False)
    assert response.status_code == 202, response.text
    return succeeded(api, response.json()["id"], timeout=120)


def chapters(api: httpx.Client, book_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/books/{book_id}/chapters").json())


def texts(api: httpx.Client, book_id: str) -> list[tuple[str, str]]:
    return [
        (c["title"], api.get(f"/chapters/{c['id']}").json()["text"]) for c in chapters(api, book_id)
    ]


def test_dom_casmurro_preview_then_import_is_idempotent(api: httpx.Client) -> None:
    data = corpus("dom-casmurro.txt")
    book = new_book(api, "Dom Casmurro")
    preview = upload(api, book, "dom-casmurro.txt", data, dry_run=True)
    assert preview.status_code == 200, preview.text[:300]
    split = preview.json()
    assert split["total_chapters"] == 148 and split["split"] == "roman-numerals"
    assert split["chapters"][0]["title"] == "Do titulo."
    assert split["chapters"][0]["word_count"] > 0
    assert split["already_imported"] is False
    assert chapters(api, book) == [], "a dry run saves nothing"

    job = imported(api, book, "dom-casmurro.txt", data)
    assert job["result"]["created"] == 148
    saved = chapters(api, book)
    assert [c["position"] for c in saved] == list(range(1, 149))
    assert saved[0]["title"] == "Do titulo." and saved[-1]["title"] == "E bem, e o resto?"

    again = imported(api, book, "dom-casmurro.txt", data)
    assert again["result"]["created"] == 0 and again["result"]["existing"] == 148
    assert len(chapters(api, book)) == 148, "importing the same file again adds nothing"
    assert upload(api, book, "x.txt", data, dry_run=True).json()["already_imported"] is True


def test_pride_and_prejudice_imports_61_chapters(api: httpx.Client) -> None:
    book = new_book(api, "Pride and Prejudice", "en")
    job = imported(api, book, "pride-and-prejudice.txt", corpus("pride-and-prejudice.txt"))
    assert job["result"]["chapters"] == 61
    assert [c["title"] for c in chapters(api, book)] == [f"Chapter {n}" for n in range(1, 62)]


def made_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("O Farol", level=0)
    for title, paragraphs in [
        ("A chegada", ["Marina chegou à ilha.", "O farol piscava."]),
        ("A tempestade", ["Choveu três dias.", "O cais caiu."]),
        ("O mercado", ["Vendiam peixe e farinha."]),
    ]:
        document.add_heading(title, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def made_epub() -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("test-epub")
    book.set_title("The Lighthouse")
    book.set_language("en")
    items = []
    for n, (title, body) in enumerate(
        [("Arrival", "<p>She came.</p><p>The light blinked.</p>"), ("Storm", "<p>Rain.</p>")],
        start=1,
    ):
        item = epub.EpubHtml(title=title, file_name=f"c{n}.xhtml", lang="en")
        item.content = f"<h2>{title}</h2>{body}"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "make"), [("farol.docx", made_docx), ("light.epub", made_epub)])
def test_docx_and_epub_round_trip_through_export(api: httpx.Client, name: str, make: Any) -> None:
    fmt = name.rsplit(".", 1)[1]
    first = new_book(api, f"Original {fmt}")
    imported(api, first, name, make())
    original = texts(api, first)
    assert len(original) == (3 if fmt == "docx" else 2)
    exported = api.get(f"/books/{first}/export", params={"format": fmt})
    assert exported.status_code == 200, exported.text
    assert f".{fmt}" in exported.headers["content-disposition"]
    second = new_book(api, f"Copy {fmt}")
    imported(api, second, f"again.{fmt}", exported.content)
    assert texts(api, second) == original


def test_markdown_export_has_metadata_and_headings(api: httpx.Client) -> None:
    book = new_book(api, "O Farol")
    imported(api, book, "farol.docx", made_docx())
    response = api.get(f"/books/{book}/export", params={"format": "md"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith('---\ntitle: "O Farol"\nlanguage: "pt-BR"')
    assert text.index("# A chegada") < text.index("# A tempestade") < text.index("# O mercado")
    assert api.get(f"/books/{book}/export", params={"format": "pdf"}).status_code == 422


def test_bad_files_get_a_4xx_and_leave_nothing(api: httpx.Client, stack: Stack) -> None:
    book = new_book(api, "Nada")
    cases = [
        ("empty.txt", b"", 422, "empty"),
        ("image.txt", bytes(range(256)) * 40, 422, "not plain text"),
        ("book.pdf", b"%PDF-1.4 ...", 415, ".pdf"),
        ("fake.docx", b"not a zip at all", 422, "not a zip"),
    ]
    for name, data, status, message in cases:
        response = upload(api, book, name, data)
        assert response.status_code == status, (name, response.text)
        assert message in response.json()["detail"], (name, response.text)
    response = api.post(f"/books/{book}/import", files={"file": ("big.txt", b"x" * (50 << 20))})
    assert response.status_code == 413 and "MAX_UPLOAD_BYTES" in response.json()["detail"]
    from tests.core.manuscripts.test_parsing import epub_without_spine

    response = upload(api, book, "nospine.epub", epub_without_spine())
    assert response.status_code == 422 and "spine" in response.json()["detail"]
    assert chapters(api, book) == []
    assert api.get("/jobs", params={"book_id": book}).json()["total"] == 0
    uploads = stack.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    missing = upload(api, "no-such-book", "a.txt", b"Capitulo 1\n\nTexto.")
    assert missing.status_code == 404


def test_import_then_reindex_with_a_separate_summary_pass(api: httpx.Client) -> None:
    book = new_book(api, "Dois Capítulos")
    text = "# Um\n\nAna chegou ao porto.\n\n# Dois\n\nO navio partiu sem ela.\n"
    response = upload(api, book, "dois.md", text.encode(), summarize=True)
    assert response.status_code == 202, response.text
    job = succeeded(api, response.json()["id"])
    reindex = succeeded(api, job["result"]["reindex_job_id"], timeout=120)
    assert reindex["result"]["indexed"] == 2 and reindex["result"]["summaries_queued"] == 2
    summaries = api.get(
        "/jobs", params={"book_id": book, "kind": "summarize_chapter", "limit": 10}
    ).json()["items"]
    assert len(summaries) == 2 and all(j["parent_id"] is None for j in summaries)
    for summary_job in summaries:
        assert succeeded(api, summary_job["id"], timeout=180)["result"]["summary"]
    assert all(c["summary"] for c in chapters(api, book))
