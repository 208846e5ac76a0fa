"""`expand`: a scene written from an idea, instructions or a chapter; optionally saved as a chapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.core.books.service import get_book
from services.core.chapters.indexing import index_chapter_request
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.saving import IndexJobs, SavedChapter, mirror, save_chapters, snapshot
from services.core.chapters.service import (
    ChapterText,
    current_text,
    get_chapter,
    save_new_chapter,
)
from services.core.db import transaction
from services.core.errors import InvalidInput
from services.core.jobs.context import ArtifactDraft, JobContext, JobOutput
from services.core.jobs.outbox import FollowUp
from services.core.jobs.repository import job_queue
from services.core.jobs.schemas import ExpandIdea, ExpandParams
from services.core.jobs.service import get_job
from services.core.llm.client import Completion
from services.core.llm.prompts import load_prompt, template_language
from services.core.memory.retrieval import search_memory
from services.core.memory.store import Passage
from services.core.writing.bible_context import bible_block, read_bible
from services.core.writing.progress import passages_for_prompt, prompt_plan, stream_text
from services.core.writing.recall import recall
from services.core.writing.suggest import fit_chapter_text

NOT_GIVEN = {"pt-BR": "(não informado)", "en": "(not given)"}
NO_REQUEST = {"pt-BR": "(nenhum pedido específico)", "en": "(no specific request)"}
NO_IDEA = {"pt-BR": "(nenhuma ideia dada)", "en": "(no idea given)"}
NO_CHAPTER = {
    "pt-BR": "(nenhum: a cena não continua um capítulo)",
    "en": "(none: the scene does not continue a chapter)",
}
DEFAULT_TITLE = {"pt-BR": "Cena", "en": "Scene"}
IDEA_LABELS = {
    "pt-BR": {
        "logline": "Premissa",
        "conflict": "Conflito",
        "characters": "Personagens",
        "hook": "Gancho",
    },
    "en": {
        "logline": "Logline",
        "conflict": "Conflict",
        "characters": "Characters",
        "hook": "Hook",
    },
}
QUERY_CHARS = 1000  # the embedding model reads ~256 tokens; a longer query is truncated anyway


@dataclass(frozen=True)
class StartingPoint:
    title: str | None
    text: str | None
    position: int | None = None  # the chapter's; None: the scene comes after the whole book


@dataclass(frozen=True)
class SavedScene:
    chapter: SavedChapter
    index_job_id: str
    follow_ups: list[FollowUp]  # the index job, for the runner to send after this job's commit


def scene_chapter_id(job_id: str) -> str:
    """Derived from the job, so a second run of the same job finds the chapter it saved."""
    return job_id.replace("-", "")[:12]


def describe_idea(idea: ExpandIdea | None, language: str) -> str:
    lang = template_language(language)
    if idea is None:
        return NO_IDEA[lang]
    labels = IDEA_LABELS[lang]
    lines = [idea.title, f"{labels['logline']}: {idea.logline}"]
    if idea.conflict:
        lines.append(f"{labels['conflict']}: {idea.conflict}")
    if idea.characters:
        lines.append(f"{labels['characters']}: {', '.join(idea.characters)}")
    if idea.hook:
        lines.append(f"{labels['hook']}: {idea.hook}")
    return "\n".join(lines)


def memory_query(params: ExpandParams, start: StartingPoint, language: str) -> str:
    """What the scene is about: the idea and the request, else the end of where it starts."""
    parts = [describe_idea(params.idea, language)] if params.idea else []
    if params.instructions:
        parts.append(params.instructions)
    if not parts and start.text:
        return start.text[-QUERY_CHARS:]
    return "\n".join(parts)[:QUERY_CHARS]


def run_expand(ctx: JobContext) -> JobOutput:
    params = ExpandParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    if params.from_chapter and ctx.chapter_id is None:
        raise InvalidInput("from_chapter=true needs the job's chapter_id")
    ctx.reporter.progress(0.02, "Reading the book")
    with transaction(ctx.sessions) as session:
        book = get_book(session, ctx.book_id)
        language, book_title, genre, synopsis = book.language, book.title, book.genre, book.synopsis
        start = _starting_point(session, ctx, params)
        earlier = _saved_by_earlier_attempt(session, ctx) if params.save_as_chapter else None
    if earlier is not None:
        # An earlier attempt saved its scene, then stopped before the job finished: hand back
        # that scene rather than write a second one that would disagree with the saved chapter.
        ctx.reporter.progress(0.95, "The scene was saved by an earlier attempt of this job")
        mirror(ctx.settings.chapters_dir, [earlier.chapter])
        scene = earlier.chapter
        return _output(scene.text, None, scene.title, language, [], False, earlier, [])
    lang = template_language(language)
    title = params.chapter_title or (params.idea.title if params.idea else DEFAULT_TITLE[lang])
    notes: list[str] = []
    passages = _related_passages(ctx, memory_query(params, start, language), start, notes)
    plan = prompt_plan(ctx)
    passages, memory = passages_for_prompt(passages, plan, language)
    start_text, truncated = (
        fit_chapter_text(start.text, plan.chapter_chars)
        if start.text
        else (NO_CHAPTER[lang], False)
    )
    named = "\n".join(
        [start.text or "", describe_idea(params.idea, language), params.instructions or ""]
    )
    bible = read_bible(ctx, plan, as_of_position=start.position, text=named)
    messages = load_prompt("expand", language, plan.profile).render(
        bible=bible_block(bible, language),
        book_title=book_title,
        genre=genre or NOT_GIVEN[lang],
        synopsis=synopsis or NOT_GIVEN[lang],
        memory=memory,
        chapter_title=start.title or NOT_GIVEN[lang],
        chapter_text=start_text,
        idea=describe_idea(params.idea, language),
        instructions=params.instructions or NO_REQUEST[lang],
    )
    completion = stream_text(
        ctx,
        messages,
        label="Writing the scene",
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        start=0.08,
        end=0.92,
    )
    if completion.finish_reason == "length":
        notes.append("the scene was cut by max_tokens; raise it for a complete scene")
    saved = None
    if params.save_as_chapter:
        ctx.reporter.progress(0.94, "Saving the scene as a chapter")
        saved = _save_scene(ctx, title, completion.text.strip())
    ctx.reporter.progress(0.97, "Saving the scene")
    output = _output(
        completion.text, completion, title, language, passages, truncated, saved, notes
    )
    output.result["receipt"]["bible_facts"] = bible.fact_ids
    return output


def _starting_point(session: Session, ctx: JobContext, params: ExpandParams) -> StartingPoint:
    if not params.from_chapter:
        return StartingPoint(None, None)
    assert ctx.chapter_id is not None
    chapter = get_chapter(session, ctx.chapter_id, book_id=ctx.book_id)
    return StartingPoint(chapter.title, current_text(session, chapter).text, chapter.position)


def _index_jobs(ctx: JobContext) -> IndexJobs:
    """The saved chapter's `index_chapter` job; its key makes a rerun get the same job back.
    No `send`: the runner sends it once this job's own commit is done (a follow-up)."""
    return IndexJobs(index_chapter_request(f"expand:{ctx.job_id}:index_chapter"))


def _saved_by_earlier_attempt(session: Session, ctx: JobContext) -> SavedScene | None:
    chapter = ChapterRepository(session).get(scene_chapter_id(ctx.job_id))
    if chapter is None or chapter.book_id != ctx.book_id:
        return None
    saved = snapshot(ChapterText(chapter, current_text(session, chapter)))
    index_job_id = _index_jobs(ctx).request(session, [saved])
    assert index_job_id is not None
    # Sent again: the earlier attempt may have stopped before its follow-up was sent; a job
    # sent twice still runs once.
    queue = job_queue(get_job(session, index_job_id))
    return SavedScene(saved, index_job_id, [FollowUp(index_job_id, queue)])


def _save_scene(ctx: JobContext, title: str, text: str) -> SavedScene:
    """The chapter and its `index_chapter` job commit together; the worker dispatches the job."""
    assert ctx.book_id is not None
    book_id = ctx.book_id
    if not text:
        raise InvalidInput("the model wrote an empty scene: nothing to save as a chapter")

    def write(session: Session) -> list[ChapterText]:
        saved = save_new_chapter(
            session,
            book_id=book_id,
            title=title,
            text=text,
            max_chars=ctx.settings.max_text_chars,
            source="ai",
            chapter_id=scene_chapter_id(ctx.job_id),
        )
        return [saved]

    result = save_chapters(ctx.sessions, ctx.settings.chapters_dir, write, _index_jobs(ctx))
    assert result.index_job_id is not None
    return SavedScene(result.chapter, result.index_job_id, result.follow_ups)


def _related_passages(
    ctx: JobContext, query: str, start: StartingPoint, notes: list[str]
) -> list[Passage]:
    """Memory keeps the scene consistent with the book; the scene is still written without it."""
    assert ctx.book_id is not None
    if not query.strip():
        return []
    ctx.reporter.progress(0.04, "Searching the book's memory")
    top_k = ctx.settings.memory_top_k
    # The starting chapter is in the prompt already; its passages would only repeat it.
    skip = ctx.chapter_id if start.text else None
    book_id = ctx.book_id
    found = recall(
        ctx, lambda: search_memory(ctx.memory, book_id, query, top_k, exclude_chapter=skip)
    )
    notes += found.notes
    return found.passages


def _output(
    text: str,
    completion: Completion | None,
    title: str,
    language: str,
    passages: list[Passage],
    truncated: bool,
    saved: SavedScene | None,
    notes: list[str],
) -> JobOutput:
    result: dict[str, Any] = {
        "text": text,
        "finish_reason": completion.finish_reason if completion else None,
        "title": title,
        "language": language,
        "citations": [p.as_citation() for p in passages],
        "notes": notes,
        "warnings": completion.warnings if completion else [],
        "saved_chapter_id": saved.chapter.chapter_id if saved else None,
        "saved_chapter_position": saved.chapter.position if saved else None,
        "index_job_id": saved.index_job_id if saved else None,
        "receipt": {
            **(completion.receipt() if completion else {"reused_saved_scene": True}),
            "context_truncated": truncated,
            "passages": [p.doc_id for p in passages],
        },
    }
    # The runner sends these after the job's own commit: the core never imports Celery.
    return JobOutput(
        result=result,
        artifact=ArtifactDraft(kind="scene", title=title, text=text),
        follow_ups=saved.follow_ups if saved else [],
    )
