"""Response shapes of manuscript import previews."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChapterPreview(BaseModel):
    index: int = Field(description="1-based place in the file")
    title: str
    word_count: int
    preview: str = Field(description="The first words of the chapter")


class ManuscriptPreview(BaseModel):
    book_id: str
    filename: str
    format: str
    sha256: str
    split: str = Field(description="How chapters were found, e.g. roman-numerals, docx-headings")
    total_chapters: int
    total_words: int
    metadata: dict[str, str] = Field(description="Title, language… as the file states them")
    front_matter: str = Field(description="Text before the first chapter; not imported")
    already_imported: bool = Field(description="This file was imported into this book before")
    chapters: list[ChapterPreview]
