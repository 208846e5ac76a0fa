"""What a writing job's prompt is told from the story bible: the entities its chapter and
request name, as of that chapter (see `services.core.bible.context`)."""

from __future__ import annotations

from services.core.bible.context import COMPACT_BUDGET, FULL_BUDGET, BibleContext, bible_for_chapter
from services.core.db import transaction
from services.core.jobs.context import JobContext
from services.core.llm.profile import PromptBudget
from services.core.llm.prompts import template_language

NOTHING = {
    "pt-BR": "(nada registrado sobre estes nomes)",
    "en": "(nothing recorded on these names)",
}


def read_bible(
    ctx: JobContext,
    plan: PromptBudget,
    *,
    as_of_position: int | None,
    text: str,
) -> BibleContext:
    """The bible's lines for the prompt; a bible that cannot be read leaves the job without
    them (it is an aid, like memory)."""
    assert ctx.book_id is not None
    budget = COMPACT_BUDGET if plan.profile == "compact" else FULL_BUDGET
    with transaction(ctx.sessions) as session:
        return bible_for_chapter(
            session, ctx.book_id, as_of_position=as_of_position, text=text, budget=budget
        )


def bible_block(context: BibleContext, language: str) -> str:
    return context.text or NOTHING[template_language(language)]
