"""`ask`: a free question about the book, answered from retrieved passages, with citations."""

from __future__ import annotations

import dataclasses

from services.core.books.service import get_book
from services.core.db import transaction
from services.core.jobs.context import JobContext, JobOutput
from services.core.jobs.schemas import AskParams
from services.core.llm.prompts import load_prompt
from services.core.memory.retrieval import search_memory
from services.core.memory.store import Passage
from services.core.writing.progress import passages_for_prompt, prompt_plan, stream_text
from services.core.writing.recall import recall


def run_ask(ctx: JobContext) -> JobOutput:
    params = AskParams.model_validate(ctx.params)
    assert ctx.book_id is not None
    with transaction(ctx.sessions) as session:
        book = get_book(session, ctx.book_id)
        language, book_title = book.language, book.title
    passages: list[Passage] = []
    notes: list[str] = []
    if params.use_memory:
        ctx.reporter.progress(0.05, "Searching the book's memory")
        top_k = params.top_k or ctx.settings.memory_top_k
        book_id = ctx.book_id
        found = recall(ctx, lambda: search_memory(ctx.memory, book_id, params.question, top_k))
        passages, notes = found.passages, found.notes
    plan = prompt_plan(ctx)
    # Ask has no chapter in its prompt: the passages get the chapter's budget.
    plan = dataclasses.replace(plan, memory_chars=plan.chapter_chars)
    passages, passages_block = passages_for_prompt(passages, plan, language)
    messages = load_prompt("ask", language, plan.profile).render(
        book_title=book_title,
        passages=passages_block,
        question=params.question,
    )
    completion = stream_text(
        ctx,
        messages,
        label="Writing the answer",
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        start=0.15,
        end=0.95,
    )
    citations = [p.as_citation() for p in passages]
    return JobOutput(
        result={
            "question": params.question,
            "answer": completion.text,
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "citations": citations,
            "notes": notes,
            "language": language,
            "warnings": completion.warnings,
            "receipt": {
                **completion.receipt(),
                "prompt_profile": plan.profile,
                "passages": [p.doc_id for p in passages],
            },
        }
    )
