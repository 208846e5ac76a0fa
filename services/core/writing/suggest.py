"""`suggest`: narrative paths and a sample scene for a chapter, streamed from the LLM."""

from __future__ import annotations

from typing import Any

from services.core.books.service import get_book
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.schemas import SuggestParams
from services.core.llm.client import Completion
from services.core.llm.prompts import load_prompt, template_language

NO_REQUEST = {"pt-BR": "(nenhum pedido específico)", "en": "(no specific request)"}
NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}


def fit_chapter_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Keep the end of a long chapter (what comes next depends most on how it ends)."""
    if len(text) <= max_chars:
        return text, False
    cut = text[-max_chars:]
    space = cut.find(" ")
    return ("…" + cut[space + 1 :] if 0 <= space < 200 else "…" + cut), True


def build_messages(
    *,
    language: str,
    book_title: str,
    genre: str | None,
    synopsis: str | None,
    chapter_title: str,
    chapter_text: str,
    params: SuggestParams,
) -> list[dict[str, str]]:
    lang = template_language(language)
    return load_prompt("suggest", language).render(
        book_title=book_title,
        genre=genre or NOT_GIVEN[lang],
        synopsis=synopsis or NOT_GIVEN[lang],
        chapter_title=chapter_title,
        chapter_text=chapter_text,
        instructions=params.instructions or NO_REQUEST[lang],
        paths=str(params.paths),
    )


def run_suggest(ctx: JobContext) -> JobOutput:
    params = SuggestParams.model_validate(ctx.params)
    ctx.reporter.progress(0.02, "Reading the chapter")
    assert ctx.chapter_id is not None
    with transaction(ctx.sessions) as session:
        chapter = get_chapter(session, ctx.chapter_id, book_id=ctx.book_id)
        book = get_book(session, chapter.book_id)
        revision = current_text(session, chapter)
        language, book_title, genre, synopsis = book.language, book.title, book.genre, book.synopsis
        chapter_title, chapter_text, revision_number = (
            chapter.title,
            revision.text,
            revision.number,
        )
    text, truncated = fit_chapter_text(chapter_text, ctx.settings.llm_prompt_chars)
    messages = build_messages(
        language=language,
        book_title=book_title,
        genre=genre,
        synopsis=synopsis,
        chapter_title=chapter_title,
        chapter_text=text,
        params=params,
    )
    max_tokens = params.max_tokens or ctx.settings.llm_max_tokens
    ctx.reporter.progress(0.05, "Generating suggestions")
    produced = 0

    def on_delta(piece: str) -> None:
        nonlocal produced
        produced += 1
        ctx.reporter.delta(piece)
        ctx.reporter.progress(
            0.05 + 0.9 * min(1.0, produced / max_tokens),
            f"Generating suggestions ({produced} tokens)",
            force=False,
        )

    completion = ctx.llm.stream_chat(
        messages, on_delta=on_delta, max_tokens=max_tokens, temperature=params.temperature
    )
    ctx.reporter.progress(0.97, "Saving the suggestions")
    return JobOutput(
        result=_result(completion, chapter_title, revision_number, truncated, language),
        artifact=ArtifactDraft(kind="suggestion", title=chapter_title, text=completion.text),
    )


def _result(
    completion: Completion, chapter_title: str, revision: int, truncated: bool, language: str
) -> dict[str, Any]:
    return {
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "chapter_title": chapter_title,
        "chapter_revision": revision,
        "language": language,
        "receipt": {**completion.receipt(), "context_truncated": truncated, "passages": []},
    }
