"""Chapter summaries written by the LLM, kept on the chapter and in memory."""

from __future__ import annotations

from services.core.llm.client import Completion, LLMClient
from services.core.llm.prompts import load_prompt
from services.core.writing.suggest import fit_chapter_text


def summarize_chapter(
    llm: LLMClient, *, language: str, title: str, text: str, max_chars: int
) -> Completion:
    body, _ = fit_chapter_text(text, max_chars)
    messages = load_prompt("summary", language).render(chapter_title=title, chapter_text=body)
    return llm.stream_chat(messages, on_delta=lambda _: None, max_tokens=200, temperature=0.2)
