"""Writing a book back out as one file (.md, .docx, .epub): chapters in order, titles as
headings, the book's metadata. Each format reads back through `parsing` into the same chapters.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from services.core.ids import slugify
from services.core.manuscripts.parsing import ParsedChapter

EXPORT_FORMATS = ("md", "docx", "epub")
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "epub": "application/epub+zip",
}


@dataclass(frozen=True)
class BookInfo:
    id: str
    title: str
    language: str
    genre: str | None = None
    synopsis: str | None = None


def export_file_name(book: BookInfo, fmt: str) -> str:
    """Built from a slug of the title and the server-made id, never from raw user text."""
    return f"{slugify(book.title)}-{book.id}.{fmt}"


def export_book(book: BookInfo, chapters: Sequence[ParsedChapter], fmt: str) -> bytes:
    if fmt == "md":
        return _markdown(book, chapters).encode("utf-8")
    if fmt == "docx":
        return _docx(book, chapters)
    if fmt == "epub":
        return _epub(book, chapters)
    raise ValueError(f"unknown export format {fmt!r}")


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs (split at blank lines), each as its lines."""
    return [p.split("\n") for p in text.split("\n\n") if p.strip()]


def _html_line(line: str) -> str:
    # HTML collapses leading spaces; no-break spaces keep the indentation of verse.
    indent = len(line) - len(line.lstrip(" "))
    return "&#160;" * indent + escape(line.lstrip(" "))


def _markdown(book: BookInfo, chapters: Sequence[ParsedChapter]) -> str:
    # YAML front matter with JSON-quoted values (valid YAML, and safe for any title).
    meta = {"title": book.title, "language": book.language, "book_id": book.id}
    if book.genre:
        meta["genre"] = book.genre
    if book.synopsis:
        meta["synopsis"] = book.synopsis
    lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items()), "---"]
    parts = ["\n".join(lines)]
    for chapter in chapters:
        parts.append(f"# {' '.join(chapter.title.split())}\n\n{chapter.text.strip()}")
    return "\n\n".join(parts) + "\n"


def _docx(book: BookInfo, chapters: Sequence[ParsedChapter]) -> bytes:
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = book.title
    props.language = book.language
    props.identifier = book.id
    props.author = ""  # not the template's "python-docx"
    if book.genre:
        props.subject = book.genre
    if book.synopsis:
        props.comments = book.synopsis
    document.add_heading(book.title, level=0)
    for chapter in chapters:
        document.add_heading(chapter.title, level=1)
        for lines in _paragraphs(chapter.text):
            paragraph = document.add_paragraph()
            for n, line in enumerate(lines):
                run = paragraph.add_run(line)
                if n < len(lines) - 1:
                    run.add_break()  # a line break inside the paragraph, read back as "\n"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _epub(book: BookInfo, chapters: Sequence[ParsedChapter]) -> bytes:
    from ebooklib import epub

    out = epub.EpubBook()
    out.set_identifier(f"copiloto-{book.id}")
    out.set_title(book.title)
    out.set_language(book.language)
    if book.synopsis:
        out.add_metadata("DC", "description", book.synopsis)
    if book.genre:
        out.add_metadata("DC", "subject", book.genre)
    items = []
    for n, chapter in enumerate(chapters, start=1):
        body = "".join(
            "<p>" + "<br/>".join(_html_line(line) for line in lines) + "</p>"
            for lines in _paragraphs(chapter.text)
        )
        item = epub.EpubHtml(
            title=chapter.title, file_name=f"chapter-{n:04d}.xhtml", lang=book.language
        )
        item.content = f"<h1>{escape(chapter.title)}</h1>{body}"
        out.add_item(item)
        items.append(item)
    out.toc = items
    out.add_item(epub.EpubNcx())
    out.add_item(epub.EpubNav())
    out.spine = ["nav", *items]
    buffer = io.BytesIO()
    epub.write_epub(buffer, out)
    return buffer.getvalue()
