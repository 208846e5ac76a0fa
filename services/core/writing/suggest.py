"""`suggest`: narrative paths and a sample scene for a chapter, streamed from the LLM."""

from __future__ import annotations

import time
from typing import Any

from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.schemas import SuggestParams
from services.core.llm.client import Completion
from services.core.llm.prompts import load_prompt, template_language
from services.core.memory.retrieval import search_memory
from services.core.memory.store import Passage
from services.core.writing.bible_context import NOTHING as BIBLE_NOTHING
from services.core.writing.bible_context import bible_block, read_bible
from services.core.writing.chapter_context import read_chapter
from services.core.writing.progress import passages_for_prompt, prompt_plan, stream_text
from services.core.writing.recall import Recall, recall

NO_REQUEST = {"pt-BR": "(nenhum pedido específico)", "en": "(no specific request)"}
NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}
NO_MEMORY = {
    "pt-BR": "(nenhum trecho de outros capítulos)",
    "en": "(no passages from other chapters)",
}
MEMORY_PASSAGES = 3


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
    memory: str | None = None,
    profile: str = "full",
    bible: str | None = None,
) -> list[dict[str, str]]:
    lang = template_language(language)
    return load_prompt("suggest", language, profile).render(
        bible=bible or BIBLE_NOTHING[lang],
        memory=memory or NO_MEMORY[lang],
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
    c = read_chapter(ctx)
    language, book_title, genre, synopsis = c.language, c.book_title, c.genre, c.synopsis
    chapter_title, chapter_text, revision_number = c.title, c.text, c.revision
    plan = prompt_plan(ctx)
    text, truncated = fit_chapter_text(chapter_text, plan.chapter_chars)
    retrieval_started = time.perf_counter()
    recalled = related_passages(ctx, chapter_text)
    retrieval_ms = (time.perf_counter() - retrieval_started) * 1000
    passages, memory = passages_for_prompt(recalled.passages, plan, language)
    named = chapter_text + "\n" + (params.instructions or "")
    bible = read_bible(ctx, plan, as_of_position=c.position, text=named)
    messages = build_messages(
        language=language,
        book_title=book_title,
        genre=genre,
        synopsis=synopsis,
        chapter_title=chapter_title,
        chapter_text=text,
        params=params,
        memory=memory,
        profile=plan.profile,
        bible=bible_block(bible, language),
    )
    completion = stream_text(
        ctx,
        messages,
        label="Generating suggestions",
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        start=0.05,
        end=0.95,
    )
    ctx.reporter.progress(0.97, "Saving the suggestions")
    result = _result(
        completion,
        chapter_title,
        revision_number,
        truncated,
        language,
        passages,
        retrieval_ms,
        plan.profile,
    )
    # The story bible's facts the prompt held (chapters up to this one only).
    result["receipt"]["bible_facts"] = bible.fact_ids
    return JobOutput(
        result=result | {"notes": recalled.notes},
        artifact=ArtifactDraft(kind="suggestion", title=chapter_title, text=completion.text),
    )


def related_passages(ctx: JobContext, chapter_text: str) -> Recall:
    """What other chapters say about how this one ends; suggestions are still written without
    it (the result's notes say why)."""
    assert ctx.book_id is not None and ctx.chapter_id is not None
    book_id, chapter_id = ctx.book_id, ctx.chapter_id
    ctx.reporter.progress(0.03, "Searching the book's memory")
    # The chapter's last lines: ~500 characters fit the embedder's window and keep the
    # query at ~30 ms on 2 cores (a 1,500-character query costs ~55 ms).
    return recall(
        ctx,
        lambda: search_memory(
            ctx.memory, book_id, chapter_text[-500:], MEMORY_PASSAGES, exclude_chapter=chapter_id
        ),
    )


def _result(
    completion: Completion,
    chapter_title: str,
    revision: int,
    truncated: bool,
    language: str,
    passages: list[Passage],
    retrieval_ms: float,
    profile: str = "full",
) -> dict[str, Any]:
    return {
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "chapter_title": chapter_title,
        "chapter_revision": revision,
        "language": language,
        "citations": [p.as_citation() for p in passages],
        "warnings": completion.warnings,
        "receipt": {
            **completion.receipt(),
            "prompt_profile": profile,
            "context_truncated": truncated,
            "passages": [p.doc_id for p in passages],
            "retrieval_ms": round(retrieval_ms, 1),
        },
    }
