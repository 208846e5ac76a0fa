"""The LLM's verdict on a candidate conflict: both passages (each quote with a sentence either
side) in front of the model, a JSON answer (contradiction, type, severity, one-line
explanation in the book's language). The passages are data inside delimiters."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, Field

from services.core.bible.text_facts import sentence_bounds
from services.core.continuity.candidates import Candidate, Cite
from services.core.llm.client import LLMClient, TransientLLMError
from services.core.llm.prompts import load_prompt
from services.core.llm.structured import StructuredOutputError, complete_json

log = logging.getLogger(__name__)

CONTEXT_CHARS = 500  # the most of a chapter one side of the judge's prompt shows
JUDGE_TOKENS = 120


class Verdict(BaseModel):
    contradiction: bool
    type: Literal["fact", "timeline", "characterisation", "world_rule"]
    severity: Literal["low", "medium", "high"]
    explanation: str = Field(max_length=300)


def context(cite: Cite) -> str:
    """The quote with the sentence before and after it (bounded)."""
    text = cite.chapter.text
    left, _ = sentence_bounds(text, max(0, cite.start - 2), max(0, cite.start - 2))
    _, right = sentence_bounds(text, min(len(text), cite.end + 1), min(len(text), cite.end + 1))
    left = min(left, cite.start)
    right = max(right, cite.end)
    if right - left > CONTEXT_CHARS:
        spare = max(0, CONTEXT_CHARS - (cite.end - cite.start)) // 2
        left, right = max(left, cite.start - spare), min(right, cite.end + spare)
    return " ".join(text[left:right].split())


def judge(
    llm: LLMClient, language: str, candidate: Candidate, profile: str | None = None
) -> Verdict | None:
    """The model's verdict; None when its JSON stayed invalid (the caller keeps the
    deterministic finding)."""
    first, last = candidate.citations[0], candidate.citations[-1]
    subject = " — ".join(x for x in (candidate.entity, candidate.attribute) if x) or "story time"
    messages = load_prompt("continuity_judge", language, profile or "full").render(
        subject=subject,
        chapter_a=str(first.chapter.position),
        chapter_b=str(last.chapter.position),
        passage_a=context(first),
        passage_b=context(last),
    )
    try:
        verdict, _ = complete_json(
            llm,
            messages,
            Verdict,
            on_delta=lambda _piece: None,
            max_tokens=JUDGE_TOKENS,
            temperature=0.0,
        )
    except TransientLLMError:
        raise
    except StructuredOutputError as exc:
        log.warning("continuity judge: the answer stayed invalid: %s", exc)
        return None
    return verdict
