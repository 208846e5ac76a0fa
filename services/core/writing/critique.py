"""`critique`: a chapter's coherence and continuity against what earlier chapters established."""

from __future__ import annotations

import dataclasses
from typing import Any

from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.schemas import CritiqueParams
from services.core.llm.prompts import load_prompt, template_language
from services.core.memory.retrieval import search_memory
from services.core.memory.store import Passage
from services.core.writing.bible_context import bible_block, read_bible
from services.core.writing.chapter_context import read_chapter
from services.core.writing.progress import passages_for_prompt, prompt_plan, stream_text
from services.core.writing.recall import empty_note, recall

NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}
NO_FOCUS = {"pt-BR": "(coerência e continuidade em geral)", "en": "(coherence and continuity)"}
QUERY_CHARS = 1000  # the embedding model reads ~256 tokens; a longer query is truncated anyway
# Each query asks for more than top_k: later chapters and this one are filtered out afterwards.
OVERFETCH = 3


def fit_for_review(text: str, max_chars: int) -> tuple[str, bool]:
    """Keep the opening and the ending of a long chapter: contradictions hide in either."""
    if len(text) <= max_chars:
        return text, False
    half = max(1, max_chars // 2)
    return f"{text[:half].rstrip()}\n[…]\n{text[-half:].lstrip()}", True


def review_queries(text: str, focus: str | None) -> list[str]:
    """The chapter's opening and ending (and the author's focus) as separate memory queries."""
    queries = [text[:QUERY_CHARS], text[-QUERY_CHARS:]]
    if focus:
        queries.append(focus)
    return list(dict.fromkeys(q for q in queries if q.strip()))


def earlier_passages(
    found: list[Passage], earlier: dict[str, tuple[int, str]], top_k: int
) -> list[Passage]:
    """Best score per document, earlier chapters only, labelled with their current position."""
    best: dict[str, Passage] = {}
    for passage in found:
        if passage.chapter_id not in earlier:
            continue
        kept = best.get(passage.doc_id)
        if kept is None or passage.score > kept.score:
            position, title = earlier[passage.chapter_id]
            # The catalog, not the vector's metadata, says where a chapter stands now.
            best[passage.doc_id] = dataclasses.replace(passage, position=position, title=title)
    ranked = sorted(best.values(), key=lambda p: p.score, reverse=True)[:top_k]
    return sorted(ranked, key=lambda p: (p.position, p.doc_id))


def run_critique(ctx: JobContext) -> JobOutput:
    params = CritiqueParams.model_validate(ctx.params)
    ctx.reporter.progress(0.02, "Reading the chapter")
    assert ctx.book_id is not None and ctx.chapter_id is not None
    c = read_chapter(ctx)
    with transaction(ctx.sessions) as session:
        earlier = {
            other.id: (other.position, other.title)
            for other in ChapterRepository(session).list_for_book(c.book_id)
            if other.position < c.position and other.id != c.chapter_id
        }
    language, book_title, genre = c.language, c.book_title, c.genre
    title, position, text, revision_number = c.title, c.position, c.text, c.revision
    lang = template_language(language)
    notes: list[str] = []
    passages: list[Passage] = []
    if earlier:
        ctx.reporter.progress(0.04, "Searching earlier chapters in the book's memory")
        top_k = params.top_k or ctx.settings.memory_top_k
        book_id = ctx.book_id
        found = recall(
            ctx,
            lambda: [
                passage
                for query in review_queries(text, params.focus)
                for passage in search_memory(ctx.memory, book_id, query, top_k * OVERFETCH)
            ],
        )
        notes += found.notes
        if found.passages:
            passages = earlier_passages(found.passages, earlier, top_k)
            notes += empty_note(passages)
    else:
        notes.append("this is the book's first chapter: there is nothing earlier to compare with")
    plan = prompt_plan(ctx)
    chapter_text, truncated = fit_for_review(text, plan.chapter_chars)
    passages, passages_block = passages_for_prompt(passages, plan, language)
    named = text + "\n" + (params.focus or "")
    bible = read_bible(ctx, plan, as_of_position=position, text=named)
    messages = load_prompt("critique", language, plan.profile).render(
        bible=bible_block(bible, language),
        book_title=book_title,
        genre=genre or NOT_GIVEN[lang],
        passages=passages_block,
        chapter_position=str(position),
        chapter_title=title,
        chapter_text=chapter_text,
        focus=params.focus or NO_FOCUS[lang],
    )
    completion = stream_text(
        ctx,
        messages,
        label="Writing the critique",
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        start=0.08,
        end=0.95,
    )
    ctx.reporter.progress(0.97, "Saving the critique")
    result: dict[str, Any] = {
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "citations": [p.as_citation() for p in passages],
        "chapter_title": title,
        "chapter_revision": revision_number,
        "language": language,
        "notes": notes,
        "warnings": completion.warnings,
        "receipt": {
            **completion.receipt(),
            "prompt_profile": plan.profile,
            "context_truncated": truncated,
            "passages": [p.doc_id for p in passages],
            # The story bible's facts the prompt held (chapters up to this one only).
            "bible_facts": bible.fact_ids,
        },
    }
    return JobOutput(
        result=result,
        artifact=ArtifactDraft(kind="critique", title=title, text=completion.text),
    )
