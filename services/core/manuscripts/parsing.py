"""Reading a manuscript file (.md, .txt, .docx, .epub) into chapters with their titles.

Nothing here touches the catalog: the API parses an upload to preview it (and to refuse a bad
file with a 4xx before anything is written), and the import job parses it again to save it.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from services.core.errors import DomainError, InvalidInput

SUPPORTED_FORMATS = ("md", "txt", "docx", "epub")
# A zip (docx, epub) may hold at most this many bytes once uncompressed, per byte uploaded,
# so a small "zip bomb" cannot fill the memory of the API or a worker.
MAX_INFLATION = 20
MAX_CHAPTERS = 2000
# Text before the first heading up to this many words is a title page (title, author): it is
# shown in the preview but not imported as a chapter. Longer text is kept as a first chapter.
FRONT_MATTER_WORDS = 60


class UnsupportedFormat(DomainError):
    status_code = 415


@dataclass(frozen=True)
class ParsedChapter:
    title: str
    text: str

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Manuscript:
    format: str
    split: str  # how the chapters were found, e.g. "roman-numerals", "docx-headings"
    chapters: list[ParsedChapter]
    metadata: dict[str, str] = field(default_factory=dict)
    front_matter: str = ""

    @property
    def word_count(self) -> int:
        return sum(c.word_count for c in self.chapters)


def manuscript_format(filename: str) -> str:
    """The format named by the file's extension; 415 for anything else."""
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    fmt = {"markdown": "md", "text": "txt"}.get(suffix, suffix)
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedFormat(
            f"unsupported file type {('.' + suffix) if suffix else '(no extension)'}: "
            "send a .md, .txt, .docx or .epub file"
        )
    return fmt


def parse_manuscript(filename: str, data: bytes, *, language: str = "pt-BR") -> Manuscript:
    fmt = manuscript_format(filename)
    if not data.strip():
        raise InvalidInput("the file is empty")
    if fmt in ("docx", "epub"):
        _check_zip(data, fmt)
        manuscript = _parse_docx(data) if fmt == "docx" else _parse_epub(data)
    else:
        manuscript = _parse_text(_decode_text(data), fmt, language)
    if not manuscript.chapters:
        raise InvalidInput("the file holds no text to import")
    if len(manuscript.chapters) > MAX_CHAPTERS:
        raise InvalidInput(
            f"the file splits into {len(manuscript.chapters)} chapters; the limit is {MAX_CHAPTERS}"
        )
    return manuscript


# ---------------------------------------------------------------------------------------------
# text


def normalize_text(text: str) -> str:
    """One form for every format: LF line ends, NFC, no trailing blanks, one blank line at most."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n").rstrip()


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    # Control characters other than tab, line feed, carriage return and form feed mean binary.
    controls = sum(1 for ch in text[:100_000] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if "\x00" in text or "\ufffd" in text[:100_000] or controls > 0:
        raise InvalidInput("the file is not plain text (binary content or an unknown encoding)")
    return text


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_MD_HEADING = re.compile(r"^(#{1,2})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    "um|uma|dois|duas|tr[eê]s|quatro|cinco|seis|sete|oito|nove|dez|onze|doze|"
    "primeiro|segundo|terceiro|quarto|quinto|sexto|s[eé]timo|oitavo|nono|d[eé]cimo"
)
_CHAPTER_LINE = re.compile(
    rf"^[ \t]*(?:chapter|cap[ií]tulo)[ \t]+(?:\d+|[ivxlcdm]+|{_NUMBER_WORDS})\b[^\n]{{0,100}}$",
    re.M | re.I,
)
_ROMAN_LINE = re.compile(r"^[ \t]*([IVXLCDM]+)\.?[ \t]*$", re.M)
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_CLOSING = re.compile(r"\n+(?:FIM|Fim|THE END|The End|FIN)\.?\s*\Z")


def roman_value(numeral: str) -> int:
    total = 0
    for ch, nxt in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN[ch]
        total += -value if nxt and _ROMAN[nxt] > value else value
    return total


@dataclass(frozen=True)
class _Heading:
    start: int  # where the heading line starts
    end: int  # where the chapter text starts
    title: str


def _parse_text(text: str, fmt: str, language: str) -> Manuscript:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    metadata: dict[str, str] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        metadata = _read_front_matter(match.group(1))
        text = text[match.end() :]
    split, headings = _find_headings(text, exported=bool(match))
    if split == "markdown-h2-with-book-title":
        first = _MD_HEADING.search(text)
        assert first is not None
        metadata.setdefault("title", first.group(2).strip())
        text = text[: first.start()] + text[first.end() :]
        split, headings = "markdown-h2", _markdown_headings(text, 2)
    front = text[: headings[0].start] if headings else ""
    chapters: list[ParsedChapter] = []
    if headings:
        bounds = [h.start for h in headings[1:]] + [len(text)]
        for heading, stop in zip(headings, bounds, strict=True):
            chapters.append(ParsedChapter(heading.title, normalize_text(text[heading.end : stop])))
    else:
        split, front = "single", ""
        title = metadata.get("title") or (
            "Capítulo 1" if language.startswith("pt") else "Chapter 1"
        )
        chapters.append(ParsedChapter(title, normalize_text(text)))
    front = normalize_text(front)
    if len(front.split()) > FRONT_MATTER_WORDS:
        opening = "Início" if language.startswith("pt") else "Opening"
        chapters.insert(0, ParsedChapter(opening, front))
        front = ""
    elif front and "title" not in metadata:
        metadata["title"] = front.split("\n", 1)[0].strip().lstrip("#").strip()[:300]
    if chapters:  # a closing "FIM" / "THE END" is not part of the last chapter's text
        last = chapters[-1]
        chapters[-1] = ParsedChapter(last.title, _CLOSING.sub("", last.text))
    chapters = [c for c in chapters if c.text.strip()]
    return Manuscript(fmt, split, chapters, metadata, front)


def _read_front_matter(block: str) -> dict[str, str]:
    """`key: value` lines of a YAML front matter block (values may be JSON-quoted strings)."""
    found: dict[str, str] = {}
    for line in block.split("\n"):
        key, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z_][\w-]*", key.strip()):
            continue
        value = value.strip()
        if value.startswith('"'):
            try:
                value = str(json.loads(value))
            except json.JSONDecodeError:
                value = value.strip('"')
        if value:
            found[key.strip().lower()] = value
    return found


def _markdown_headings(text: str, level: int) -> list[_Heading]:
    return [
        _Heading(m.start(), m.end(), m.group(2).strip()[:300])
        for m in _MD_HEADING.finditer(text)
        if len(m.group(1)) == level
    ]


def _find_headings(text: str, *, exported: bool) -> tuple[str, list[_Heading]]:
    """Markdown `#`, else `##`, else `Chapter N` / `Capítulo N` lines, else Roman numerals."""
    h1, h2 = _markdown_headings(text, 1), _markdown_headings(text, 2)
    if h1 and (exported or len(h1) > 1 or not h2):
        return "markdown-h1", h1
    if h2:
        if len(h1) == 1 and h1[0].start < h2[0].start:
            return "markdown-h2-with-book-title", []
        return "markdown-h2", h2
    chapter_lines = list(_CHAPTER_LINE.finditer(text))
    if chapter_lines:
        headings = []
        for m in chapter_lines:
            label = " ".join(m.group(0).split())
            title, end = _title_line(text, m.end(), prose_like_ok=False)
            headings.append(_Heading(m.start(), end, f"{label} — {title}" if title else label))
        return "chapter-lines", headings
    numerals = _roman_headings(text)
    if len(numerals) >= 2:
        return "roman-numerals", numerals
    return "single", []


def _roman_headings(text: str) -> list[_Heading]:
    """Lines holding only a Roman numeral, kept only while they count up one by one: a stray
    "I" or "V" line inside the prose is text, not a chapter."""
    headings: list[_Heading] = []
    expected: int | None = None
    for m in _ROMAN_LINE.finditer(text):
        numeral = m.group(1)
        if not re.fullmatch(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})", numeral):
            continue
        value = roman_value(numeral)
        if expected is not None and value != expected:
            continue
        expected = value + 1
        title, end = _title_line(text, m.end())
        headings.append(_Heading(m.start(), end, title or numeral))
    return headings


def _title_line(text: str, pos: int, *, prose_like_ok: bool = True) -> tuple[str, int]:
    """A chapter title on its own short line right after the heading, followed by a blank line
    (as in `I` / `` / `Do titulo.` / `` / text). Returns ("", pos) when there is none.

    After a bare numeral the next short line is the title even when it ends like a sentence
    ("E bem, e o resto?"); after `Chapter N`, whose line is a title already, a line that looks
    like dialogue or a sentence is the start of the text instead.
    """
    match = re.compile(r"\n*[ \t]*([^\n]+?)[ \t]*\n[ \t]*(?:\n|\Z)").match(text, pos)
    if not match:
        return "", pos
    line = match.group(1)
    if len(line) > 80 or len(line.split()) > 12 or _ROMAN_LINE.fullmatch(line):
        return "", pos
    if _CHAPTER_LINE.fullmatch(line) or _MD_HEADING.fullmatch(line):
        return "", pos
    if not prose_like_ok and (line[:1] in "\"'“‘«—-" or line.rstrip()[-1:] in ".,;:!?\"'”’»"):
        return "", pos
    return line.strip(), match.end()


# ---------------------------------------------------------------------------------------------
# zip-based formats


def _check_zip(data: bytes, fmt: str) -> None:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise InvalidInput(f"the file is not a valid .{fmt} (it is not a zip archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"the .{fmt} file is damaged: {exc}") from exc
    if inflated > MAX_INFLATION * len(data) + 1_000_000:
        raise InvalidInput(f"the .{fmt} file unpacks to {inflated:,} bytes: refused")


_DOCX_LEVELS = {"heading 1": 1, "heading 2": 2, "title": 0}


def _parse_docx(data: bytes) -> Manuscript:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, PackageNotFoundError…
        raise InvalidInput(f"the .docx file could not be read: {exc}") from exc
    paragraphs: list[tuple[int | None, str]] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        paragraphs.append((_DOCX_LEVELS.get(style.lower()), paragraph.text))
    props = document.core_properties
    metadata = {
        key: str(value).strip()
        for key, value in (
            ("title", props.title),
            ("author", props.author),
            ("language", props.language),
            ("genre", props.subject),
            ("synopsis", props.comments),
        )
        if value and str(value).strip()
    }
    for level, text in paragraphs:
        if level == 0 and text.strip():
            metadata.setdefault("title", text.strip())
    h1 = [i for i, (level, t) in enumerate(paragraphs) if level == 1 and t.strip()]
    h2 = [i for i, (level, t) in enumerate(paragraphs) if level == 2 and t.strip()]
    if h2 and len(h1) == 1 and h1[0] < h2[0]:
        metadata.setdefault("title", paragraphs[h1[0]][1].strip())
        paragraphs[h1[0]] = (0, paragraphs[h1[0]][1])
        split_level: int | None = 2
    else:
        split_level = 1 if h1 else 2 if h2 else None
    if split_level is None:  # no heading styles: find the chapters in the text itself
        body = "\n\n".join(t for level, t in paragraphs if level != 0)
        found = _parse_text(body, "docx", metadata.get("language", "pt-BR"))
        return Manuscript(
            "docx",
            f"docx-text-{found.split}",
            found.chapters,
            metadata | found.metadata,
            found.front_matter,
        )
    chapters: list[ParsedChapter] = []
    title: str | None = None
    body_parts: list[str] = []
    front: list[str] = []
    for level, text in paragraphs:
        if level == split_level and text.strip():
            if title is not None:
                chapters.append(ParsedChapter(title, normalize_text("\n\n".join(body_parts))))
            title, body_parts = " ".join(text.split())[:300], []
        elif level == 0:
            continue
        elif title is None:
            front.append(text)
        else:
            body_parts.append(text)
    if title is not None:
        chapters.append(ParsedChapter(title, normalize_text("\n\n".join(body_parts))))
    front_text = normalize_text("\n\n".join(front))
    if len(front_text.split()) > FRONT_MATTER_WORDS:
        chapters.insert(0, ParsedChapter(metadata.get("title", "Início"), front_text))
        front_text = ""
    chapters = [c for c in chapters if c.text.strip()]
    return Manuscript("docx", "docx-headings", chapters, metadata, front_text)


_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "blockquote",
        "pre",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "figure",
        "figcaption",
        "body",
    ]
)
_SKIP = frozenset({"script", "style", "head", "title", "nav"})


# HTML collapses these (not the no-break space) into one space.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def html_text(element: Any) -> str:
    """The text of an (X)HTML element as a reader sees it: whitespace collapsed, paragraphs
    separated by a blank line, `<br>` as a line break."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        tag = _local(node.tag)
        if tag in _SKIP:
            return
        if tag == "br":
            parts.append("\n")
        elif tag in _BLOCKS:
            parts.append("\n\n")
        if node.text:
            parts.append(_HTML_SPACE.sub(" ", node.text))
        for child in node:
            walk(child)
            if child.tail:
                parts.append(_HTML_SPACE.sub(" ", child.tail))
        if tag in _BLOCKS:
            parts.append("\n\n")

    walk(element)
    lines = [line.strip(" \t") for line in "".join(parts).split("\n")]
    # Leading no-break spaces are indentation (verse): the exporter writes spaces that way.
    lines = [" " * (len(line) - len(line.lstrip("\xa0"))) + line.lstrip("\xa0") for line in lines]
    return normalize_text("\n".join(lines))


def _parse_epub(data: bytes) -> Manuscript:
    import ebooklib
    from ebooklib import epub
    from lxml import html as lxml_html

    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises EpubException, KeyError, lxml errors…
        raise InvalidInput(f"the .epub file could not be read: {exc}") from exc
    spine = [entry[0] if isinstance(entry, tuple) else entry for entry in book.spine or []]
    if not spine:
        raise InvalidInput("the .epub file has no spine (no reading order): nothing to import")
    toc_titles = dict(_toc_entries(book.toc))
    chapters: list[ParsedChapter] = []
    for idref in spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        if isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", None) or []):
            continue
        content = item.get_content()
        if not content or not content.strip():
            continue
        try:
            root = lxml_html.fromstring(content)
        except Exception:  # an unparsable document is skipped, the rest of the book imported
            continue
        body = root.find(".//body")
        if body is None:
            body = root
        heading = next(
            (h for h in body.iter() if _local(h.tag) in ("h1", "h2", "h3") and html_text(h)),
            None,
        )
        title = html_text(heading) if heading is not None else ""
        if heading is not None:
            heading.drop_tree()
        text = html_text(body)
        if not text:
            continue
        title = " ".join((title or toc_titles.get(item.get_name(), "") or item.title or "").split())
        chapters.append(ParsedChapter((title or f"{len(chapters) + 1}")[:300], text))
    metadata: dict[str, str] = {}
    for key, name in (
        ("title", "title"),
        ("language", "language"),
        ("author", "creator"),
        ("synopsis", "description"),
        ("genre", "subject"),
    ):
        values = book.get_metadata("DC", name)
        if values and values[0] and values[0][0]:
            metadata[key] = str(values[0][0]).strip()
    return Manuscript("epub", "epub-spine", chapters, metadata, "")


def _toc_entries(toc: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for entry in toc:
        if isinstance(entry, tuple | list) and len(entry) == 2:
            section, children = entry
            if getattr(section, "href", None):
                yield section.href.split("#", 1)[0], section.title or ""
            yield from _toc_entries(children)
        elif getattr(entry, "href", None):
            yield entry.href.split("#", 1)[0], entry.title or ""
