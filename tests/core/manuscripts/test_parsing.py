"""Splitting book files into chapters, and export → import round trips (pure parsing)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from services.core.errors import InvalidInput
from services.core.manuscripts.exporting import BookInfo, export_book
from services.core.manuscripts.parsing import (
    ParsedChapter,
    UnsupportedFormat,
    parse_manuscript,
)

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"


def corpus(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS} (../shared/corpus)")
    return path.read_bytes()


def test_dom_casmurro_splits_at_roman_numerals_with_titles() -> None:
    book = parse_manuscript("dom-casmurro.txt", corpus("dom-casmurro.txt"))
    assert book.split == "roman-numerals"
    assert len(book.chapters) == 148
    titles = [c.title for c in book.chapters]
    assert titles[:3] == ["Do titulo.", "Do livro.", "A denuncia."]
    assert titles[-1] == "E bem, e o resto?"
    assert all(t and not t.rstrip(".").isupper() for t in titles), "no bare numeral as a title"
    assert book.chapters[0].text.startswith("Uma noite destas, vindo da cidade")
    assert book.chapters[-1].text.endswith("Vamos á _Historia dos suburbios._")
    assert 64_000 < book.word_count < 65_120


def test_pride_and_prejudice_splits_at_chapter_lines() -> None:
    book = parse_manuscript("pride-and-prejudice.txt", corpus("pride-and-prejudice.txt"))
    assert book.split == "chapter-lines"
    assert [c.title for c in book.chapters] == [f"Chapter {n}" for n in range(1, 62)]
    assert book.chapters[0].text.startswith("It is a truth universally acknowledged")
    assert book.front_matter == "PRIDE AND PREJUDICE\n\nBy Jane Austen"
    assert book.metadata["title"] == "PRIDE AND PREJUDICE"


CHAPTERS = [
    ParsedChapter("A partida", "Ana olhou o mar.\nO navio apitou.\n\n«Adeus», disse ela."),
    ParsedChapter("O naufrágio", "A tempestade veio à noite.\n\n    Verso recuado,\n    outro."),
    ParsedChapter("Chapter 3 — Home", 'He came back in May.\n\n"Home," he said.'),
]


@pytest.mark.parametrize("fmt", ["md", "docx", "epub"])
def test_export_then_import_gives_the_same_chapters(fmt: str) -> None:
    info = BookInfo("b1", "O Mar", "pt-BR", "drama", "Uma sinopse.")
    data = export_book(info, CHAPTERS, fmt)
    back = parse_manuscript(f"o-mar.{fmt}", data)
    assert back.chapters == CHAPTERS
    assert back.metadata["title"] == "O Mar"
    assert back.metadata.get("synopsis") == "Uma sinopse."


def test_markdown_headings_and_a_book_title() -> None:
    text = "# O Livro\n\n## Um\n\nTexto um.\n\n## Dois\n\nTexto dois.\n"
    book = parse_manuscript("livro.md", text.encode())
    assert [(c.title, c.text) for c in book.chapters] == [
        ("Um", "Texto um."),
        ("Dois", "Texto dois."),
    ]
    assert book.metadata["title"] == "O Livro"


def test_capitulo_lines_and_a_file_without_headings() -> None:
    text = "Capítulo 1\n\nEra uma vez.\n\nCapítulo 2\n\nFim da história, mas não do livro.\n"
    assert [c.title for c in parse_manuscript("a.txt", text.encode()).chapters] == [
        "Capítulo 1",
        "Capítulo 2",
    ]
    single = parse_manuscript("b.txt", b"Just one piece of prose.\n")
    assert single.split == "single" and len(single.chapters) == 1


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def epub_without_spine() -> bytes:
    container = (
        '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">x</dc:identifier><dc:title>T</dc:title>'
        "<dc:language>en</dc:language></metadata><manifest>"
        '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
        "<spine></spine></package>"
    )
    return _zip(
        {
            "mimetype": "application/epub+zip",
            "META-INF/container.xml": container,
            "content.opf": opf,
            "c1.xhtml": "<html><body><h1>One</h1><p>Text.</p></body></html>",
        }
    )


def test_bad_files_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_manuscript("a.txt", b"  \n")
    with pytest.raises(InvalidInput, match="not plain text"):
        parse_manuscript("a.txt", bytes(range(256)) * 10)
    with pytest.raises(UnsupportedFormat, match=r"\.pdf"):
        parse_manuscript("a.pdf", b"%PDF-1.4")
    with pytest.raises(InvalidInput, match="not a zip"):
        parse_manuscript("a.docx", b"plain text pretending")
    with pytest.raises(InvalidInput, match="spine"):
        parse_manuscript("a.epub", epub_without_spine())
