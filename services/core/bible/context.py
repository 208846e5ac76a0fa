"""The story bible as a writing job's prompt sees it: the state, as of one chapter, of the
entities its text names — never a fact from a later chapter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.core.bible.candidates import fold
from services.core.bible.schemas import FactOut
from services.core.bible.service import _entity_out, _facts_out, _load, current_facts


@dataclass(frozen=True)
class BibleBudget:
    entities: int
    facts_per_entity: int
    chars: int


# A small model gets a few lines; a capable one a fuller cast.
COMPACT_BUDGET = BibleBudget(entities=4, facts_per_entity=3, chars=600)
FULL_BUDGET = BibleBudget(entities=10, facts_per_entity=6, chars=2000)


@dataclass(frozen=True)
class BibleContext:
    text: str  # lines for the prompt; "" when the bible says nothing about these names
    fact_ids: list[str] = field(default_factory=list)
    entity_ids: list[str] = field(default_factory=list)


def _named_in(folded_text: str, names: list[str]) -> bool:
    for name in names:
        key = " ".join(fold(name).split())
        if len(key) >= 2 and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", folded_text):
            return True
    return False


def _line(name: str, kind: str, facts: list[FactOut]) -> str:
    said = "; ".join(f"{f.attribute}: {f.value} [{f.chapter_position}]" for f in facts)
    return f"- {name} ({kind}): {said}"


def bible_for_chapter(
    session: Session,
    book_id: str,
    *,
    as_of_position: int | None,
    text: str,
    budget: BibleBudget,
) -> BibleContext:
    """The current facts, from chapters at or before `as_of_position` (None: the whole
    book, for a scene written after its last chapter), of the entities `text` names."""
    book = _load(session, book_id)
    folded = " ".join(fold(text).split())
    chosen = []
    for entity in book.entities.values():
        names = [entity.name, *(a.name for a in book.names.get(entity.id, []))]
        if not _named_in(folded, names):
            continue
        out = _entity_out(book, entity, as_of_position)
        facts = current_facts(_facts_out(book, book.facts.get(entity.id, []), as_of_position))
        if facts:
            chosen.append((out.mentions, entity.name, entity.kind, entity.id, facts))
    chosen.sort(key=lambda c: (-c[0], c[1]))
    lines: list[str] = []
    fact_ids: list[str] = []
    entity_ids: list[str] = []
    used = 0
    for _, name, kind, entity_id, facts in chosen[: budget.entities]:
        # Pinned facts first, then the latest chapters': what the author marked, what is now.
        facts = sorted(facts, key=lambda f: (not f.pinned, -f.chapter_position, f.start))
        kept = facts[: budget.facts_per_entity]
        line = _line(name, kind, kept)
        if used + len(line) > budget.chars:
            break
        used += len(line) + 1
        lines.append(line)
        entity_ids.append(entity_id)
        fact_ids.extend(f.id for f in kept)
    return BibleContext("\n".join(lines), fact_ids, entity_ids)
