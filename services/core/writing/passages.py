"""Retrieved passages as prompt material: labelled with their chapter, bounded in size."""

from __future__ import annotations

from services.core.llm.prompts import template_language
from services.core.memory.store import Passage

CITE = {"pt-BR": "cap.", "en": "ch."}
NO_PASSAGES = {
    "pt-BR": "(nenhum trecho: a memória está desligada ou vazia)",
    "en": "(no passages: memory is off or empty)",
}


def format_passages(passages: list[Passage], language: str, max_chars: int) -> str:
    """Each passage under a citation label; the whole block bounded to `max_chars`.

    A passage comes with its neighbours (`context`) when they fit its share of the budget: the
    answer often sits just before or after the words that matched."""
    lang = template_language(language)
    if not passages:
        return NO_PASSAGES[lang]
    blocks: list[str] = []
    used = 0
    share = max_chars // len(passages)
    for passage in passages:
        body = passage.context if 0 < len(passage.context) <= share else passage.text
        block = f"[{CITE[lang]} {passage.position} — {passage.title}]\n{body.strip()}"
        if blocks and used + len(block) > max_chars:
            break
        blocks.append(block[:max_chars])
        used += len(block)
    return "\n\n".join(blocks)
