"""Chapter summaries written by the LLM, kept on the chapter and in memory."""

from __future__ import annotations

from services.core.llm.client import Completion, LLMClient
from services.core.llm.generation import GenerationOptions, generate_text
from services.core.llm.prompts import load_prompt
from services.core.llm.sampling import KIND_DEFAULTS
from services.core.writing.suggest import fit_chapter_text


def summarize_chapter(
    llm: LLMClient, *, language: str, title: str, text: str, max_chars: int
) -> Completion:
    body, _ = fit_chapter_text(text, max_chars)
    messages = load_prompt("summary", language).render(chapter_title=title, chapter_text=body)
    # A looping summary would sit in memory and be retrieved into every later prompt: the same
    # guard as the writing jobs (an empty or looping-twice answer raises LLMError: no summary).
    options = GenerationOptions(sampling=KIND_DEFAULTS["summary"], max_tokens=200)
    return generate_text(llm, messages, options, on_delta=lambda _: None, on_reset=lambda _: None)
