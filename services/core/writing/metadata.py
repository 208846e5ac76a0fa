"""`extract_metadata`: a chapter's genre, tone, point of view, cast, places, times and themes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

from services.core.books.service import get_book
from services.core.chapters.service import set_metadata
from services.core.db import transaction
from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.schemas import ExtractMetadataParams
from services.core.llm.prompts import load_prompt, template_language
from services.core.llm.structured import complete_json
from services.core.writing.chapter_context import read_chapter
from services.core.writing.progress import GenerationProgress
from services.core.writing.structured_fields import Name, unique

NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}
SENT_TEXT_TITLE = {"pt-BR": "Texto enviado", "en": "Text sent"}
LABELS = {
    "pt-BR": {
        "genre": "Gênero",
        "tone": "Tom",
        "pov": "Ponto de vista",
        "characters": "Personagens",
        "places": "Lugares",
        "time_markers": "Marcações de tempo",
        "themes": "Temas",
    },
    "en": {
        "genre": "Genre",
        "tone": "Tone",
        "pov": "Point of view",
        "characters": "Characters",
        "places": "Places",
        "time_markers": "Time markers",
        "themes": "Themes",
    },
}


# The limits are part of the decoding grammar: they keep a looping small model from running
# one string or one list until max_tokens cuts the JSON. The prompt states the list limits, so
# a capable model keeps to them instead of being cut short by the grammar.
LIST_LIMITS = {"characters": 10, "places": 8, "time_markers": 6, "themes": 6}
# Every limit filled is about 1,400 characters, 600 to 800 tokens with the indentation models
# add; a smaller budget lets a looping model's JSON be cut by max_tokens, which makes it invalid.
DEFAULT_MAX_TOKENS = 1024


class ChapterMetadata(BaseModel):
    genre: str = Field(min_length=1, max_length=60)
    tone: str = Field(min_length=1, max_length=60)
    pov: str = Field(min_length=1, max_length=60)
    characters: list[Name] = Field(max_length=LIST_LIMITS["characters"])
    places: list[Name] = Field(max_length=LIST_LIMITS["places"])
    time_markers: list[Name] = Field(max_length=LIST_LIMITS["time_markers"])
    themes: list[Name] = Field(max_length=LIST_LIMITS["themes"])

    _unique = field_validator(*LIST_LIMITS)(unique)


def fit_head_and_tail(text: str, max_chars: int) -> tuple[str, bool]:
    """Keep the start and the end of a long chapter: who and where are set up at the start,
    and the end is where the chapter lands."""
    if len(text) <= max_chars:
        return text, False
    half = max_chars // 2
    return f"{text[:half].rstrip()}\n[…]\n{text[-half:].lstrip()}", True


def build_messages(
    *, language: str, book_title: str, genre: str | None, chapter_title: str, chapter_text: str
) -> list[dict[str, str]]:
    return load_prompt("extract_metadata", language).render(
        book_title=book_title,
        genre=genre or NOT_GIVEN[template_language(language)],
        chapter_title=chapter_title,
        chapter_text=chapter_text,
        **{f"max_{name}": str(limit) for name, limit in LIST_LIMITS.items()},
    )


def render_markdown(metadata: dict[str, Any], language: str) -> str:
    labels = LABELS[template_language(language)]
    lines = []
    for key, label in labels.items():
        value = metadata[key]
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"- **{label}:** {shown or '—'}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Source:
    """What the extraction reads: the job's chapter, or a text sent with the job."""

    language: str
    book_title: str
    genre: str | None
    title: str
    text: str
    chapter_id: str | None = None  # None: a sent text, stored on no chapter
    revision: int | None = None
    content_hash: str | None = None


def read_source(ctx: JobContext, params: ExtractMetadataParams) -> Source:
    if params.text is None:
        c = read_chapter(ctx)
        return Source(
            language=c.language,
            book_title=c.book_title,
            genre=c.genre,
            title=c.title,
            text=c.text,
            chapter_id=c.chapter_id,
            revision=c.revision,
            content_hash=c.content_hash,
        )
    assert ctx.book_id is not None
    with transaction(ctx.sessions) as session:
        book = get_book(session, ctx.book_id)
        language, book_title, genre = book.language, book.title, book.genre
    title = params.title or SENT_TEXT_TITLE[template_language(language)]
    return Source(language, book_title, genre, title, params.text)


def run_extract_metadata(ctx: JobContext) -> JobOutput:
    params = ExtractMetadataParams.model_validate(ctx.params)
    ctx.reporter.progress(0.02, "Reading the chapter")
    c = read_source(ctx, params)
    language, book_title, genre = c.language, c.book_title, c.genre
    chapter_title, read_hash = c.title, c.content_hash
    chapter_text, revision_number = c.text, c.revision
    text, truncated = fit_head_and_tail(chapter_text, ctx.settings.llm_prompt_chars)
    messages = build_messages(
        language=language,
        book_title=book_title,
        genre=genre,
        chapter_title=chapter_title,
        chapter_text=text,
    )
    max_tokens = params.max_tokens or max(ctx.settings.llm_max_tokens, DEFAULT_MAX_TOKENS)
    ctx.reporter.progress(0.05, "Extracting metadata")
    progress = GenerationProgress(
        ctx.reporter, label="Extracting metadata", max_tokens=max_tokens, start=0.05, end=0.93
    )
    answer, completion = complete_json(
        ctx.llm,
        messages,
        ChapterMetadata,
        on_delta=progress.on_delta,
        on_retry=progress.on_retry,
        max_tokens=max_tokens,
        temperature=params.temperature,
    )
    metadata = answer.model_dump()
    ctx.reporter.progress(0.95, "Saving the metadata on the chapter")
    notes = []
    stored = False
    if c.chapter_id is None:
        notes.append("extracted from the text sent: stored on no chapter")
    else:
        assert read_hash is not None
        with transaction(ctx.sessions) as session:
            stored = set_metadata(session, c.chapter_id, metadata, expected_hash=read_hash)
        if not stored:
            notes.append(
                f"the chapter changed after revision {revision_number} was read: "
                "the metadata was not stored on it (run the extraction again)"
            )
    return JobOutput(
        result={
            "metadata": metadata,
            "chapter_title": chapter_title,
            "chapter_revision": revision_number,
            "stored": stored,
            "notes": notes,
            "language": language,
            "receipt": {
                **completion.receipt(),
                "context_truncated": truncated,
                "json_repaired": progress.repaired,
                "passages": [],
            },
        },
        artifact=ArtifactDraft(
            kind="metadata",
            title=chapter_title,
            text=render_markdown(metadata, language),
            data=metadata,
        ),
    )
