"""`ideate`: story ideas for a book, as schema-constrained JSON from the LLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, create_model, field_validator

from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.config import Settings
from services.core.db import transaction
from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.schemas import IdeateParams
from services.core.llm.prompts import load_prompt, template_language
from services.core.llm.structured import complete_json
from services.core.writing.progress import GenerationProgress
from services.core.writing.structured_fields import Name, unique

NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}
NO_THEME = {"pt-BR": "(livre)", "en": "(free)"}
NO_CHAPTERS = {"pt-BR": "(nenhum capítulo ainda)", "en": "(no chapters yet)"}
EARLIER = {"pt-BR": "(… {n} capítulos anteriores)", "en": "(… {n} earlier chapters)"}
LABELS = {
    "pt-BR": {"conflict": "Conflito", "characters": "Personagens", "hook": "Gancho"},
    "en": {"conflict": "Conflict", "characters": "Characters", "hook": "Hook"},
}
# An idea that fills every length limit below (about 900 characters) takes about 400 tokens
# with the indentation models add; a smaller budget lets a chatty model's JSON be cut by
# max_tokens, and a cut answer is an invalid one.
TOKENS_PER_IDEA = 400
SUMMARY_CHARS = 400
MAX_CHARACTERS = 5  # per idea; the prompt states it


# Length limits become part of the decoding grammar: they stop a small model that loops inside
# a string or a list ("Elena", "Elena", …) long before max_tokens cuts the JSON.
class Idea(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    logline: str = Field(min_length=1, max_length=200)
    conflict: str = Field(min_length=1, max_length=200)
    characters: list[Name] = Field(max_length=MAX_CHARACTERS)
    hook: str = Field(min_length=1, max_length=200)

    _unique = field_validator("characters")(unique)


class IdeaList(BaseModel):
    ideas: list[Idea] = Field(min_length=1)


def idea_list_model(count: int) -> type[IdeaList]:
    """Decoding asks for exactly `count` ideas (minItems/maxItems); validation accepts any
    non-empty list, so a server that ignores those keywords still yields usable ideas."""
    return create_model(
        "IdeaList",
        __base__=IdeaList,
        ideas=(
            list[Idea],
            Field(min_length=1, json_schema_extra={"minItems": count, "maxItems": count}),
        ),
    )


def default_max_tokens(count: int, settings: Settings) -> int:
    return min(8192, max(settings.llm_max_tokens, TOKENS_PER_IDEA * count))


def _clip(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[: max(0, max_chars - 1)].rstrip() + "…", True


def fit_outline(
    chapters: Sequence[tuple[str, str | None]], max_chars: int, language: str
) -> tuple[str, bool]:
    """Chapter titles with summaries, in order, within `max_chars`.

    What comes next depends most on the latest chapters: when the outline is too long the
    earliest chapters lose their summaries first, then their titles.
    """
    lang = template_language(language)
    if not chapters:
        return NO_CHAPTERS[lang], False
    short = [f"{i}. {title}" for i, (title, _) in enumerate(chapters, start=1)]
    full = [
        line + (f" — {_clip(summary, SUMMARY_CHARS)[0]}" if summary else "")
        for line, (_, summary) in zip(short, chapters, strict=True)
    ]
    clipped = any(summary and len(summary) > SUMMARY_CHARS for _, summary in chapters)
    total = sum(len(line) + 1 for line in full)
    for k in range(len(full) + 1):  # the first k chapters are shown by title only
        if total <= max_chars:
            return "\n".join(short[:k] + full[k:]), clipped or k > 0
        if k < len(full):
            total -= len(full[k]) - len(short[k])
    kept: list[str] = []
    used = len(EARLIER[lang]) + 8
    for line in reversed(short):
        if used + len(line) + 1 > max_chars:
            break
        kept.insert(0, line)
        used += len(line) + 1
    omitted = EARLIER[lang].format(n=len(short) - len(kept))
    return "\n".join([omitted, *kept]), True


def build_messages(
    *,
    language: str,
    book_title: str,
    genre: str | None,
    synopsis: str | None,
    chapters: Sequence[tuple[str, str | None]],
    params: IdeateParams,
    max_chars: int,
) -> tuple[list[dict[str, str]], bool]:
    """The prompt, and whether the book material had to be shortened to fit `max_chars`."""
    lang = template_language(language)
    synopsis_text, synopsis_cut = _clip(synopsis or NOT_GIVEN[lang], max_chars // 3)
    outline_budget = max(500, max_chars - len(synopsis_text) - len(params.theme or ""))
    outline, outline_cut = fit_outline(chapters, outline_budget, language)
    messages = load_prompt("ideate", language).render(
        book_title=book_title,
        language=language,
        genre=genre or NOT_GIVEN[lang],
        synopsis=synopsis_text,
        outline=outline,
        theme=params.theme or NO_THEME[lang],
        count=str(params.count),
        max_characters=str(MAX_CHARACTERS),
    )
    return messages, synopsis_cut or outline_cut


def render_markdown(ideas: Sequence[dict[str, Any]], language: str) -> str:
    labels = LABELS[template_language(language)]
    blocks = []
    for i, idea in enumerate(ideas, start=1):
        characters = ", ".join(idea["characters"]) or "—"
        blocks.append(
            f"## {i}. {idea['title']}\n\n{idea['logline']}\n\n"
            f"- **{labels['conflict']}:** {idea['conflict']}\n"
            f"- **{labels['characters']}:** {characters}\n"
            f"- **{labels['hook']}:** {idea['hook']}\n"
        )
    return "\n".join(blocks)


def run_ideate(ctx: JobContext) -> JobOutput:
    params = IdeateParams.model_validate(ctx.params)
    ctx.reporter.progress(0.02, "Reading the book")
    assert ctx.book_id is not None
    with transaction(ctx.sessions) as session:
        book = get_book(session, ctx.book_id)
        chapters = [(c.title, c.summary) for c in ChapterRepository(session).list_for_book(book.id)]
        language, book_title, genre, synopsis = book.language, book.title, book.genre, book.synopsis
    messages, truncated = build_messages(
        language=language,
        book_title=book_title,
        genre=genre,
        synopsis=synopsis,
        chapters=chapters,
        params=params,
        max_chars=ctx.settings.llm_prompt_chars,
    )
    max_tokens = params.max_tokens or default_max_tokens(params.count, ctx.settings)
    ctx.reporter.progress(0.05, "Generating ideas")
    progress = GenerationProgress(
        ctx.reporter, label="Generating ideas", max_tokens=max_tokens, start=0.05, end=0.95
    )
    answer, completion = complete_json(
        ctx.llm,
        messages,
        idea_list_model(params.count),
        on_delta=progress.on_delta,
        on_retry=progress.on_retry,
        max_tokens=max_tokens,
        temperature=params.temperature,
    )
    ideas = [idea.model_dump() for idea in answer.ideas[: params.count]]
    notes = []
    if len(answer.ideas) != params.count:
        notes.append(
            f"asked for {params.count} ideas, the model returned {len(answer.ideas)}"
            + (f"; kept the first {params.count}" if len(answer.ideas) > params.count else "")
        )
    ctx.reporter.progress(0.97, "Saving the ideas")
    return JobOutput(
        result={
            "ideas": ideas,
            "requested": params.count,
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
            kind="ideas",
            title=book_title,
            text=render_markdown(ideas, language),
            data={"ideas": ideas},
        ),
    )
