"""Prompt profiles: the full prompts for capable models, compact ones for small models.

A 135M-parameter model loses the thread of a long prompt: it follows two short lines of
instructions better than eight, and a chapter plus five memory passages leaves it repeating the
last phrase it saw. The compact profile has shorter templates (`prompts/compact/`) and a smaller
budget for chapter text and memory passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.core.config import Settings
from services.core.llm.client import ServerInfo

Profile = Literal["compact", "full"]


@dataclass(frozen=True)
class PromptBudget:
    profile: Profile
    chapter_chars: int  # chapter text in the prompt
    memory_chars: int  # all memory passages together
    max_passages: int | None  # None: as many as were retrieved (and fit)


def resolve_profile(settings: Settings, info: ServerInfo | None) -> Profile:
    """PROMPT_PROFILE, or for `auto` the size of the served model: compact below
    PROMPT_COMPACT_BELOW_B billion parameters, full when the size is unknown (a GPU preset or a
    remote server is the likelier case then)."""
    if settings.prompt_profile != "auto":
        return settings.prompt_profile
    if info is None or info.params_b is None:
        return "full"
    return "compact" if info.params_b < settings.prompt_compact_below_b else "full"


def prompt_budget(settings: Settings, profile: Profile) -> PromptBudget:
    full_chars = settings.llm_prompt_chars
    if profile == "full":
        return PromptBudget("full", full_chars, full_chars // 2, None)
    # Measured with bench/generation_quality.py: about 2,000 characters of chapter and two short
    # passages keep SmolLM2-135M on topic; more only made it loop sooner.
    return PromptBudget("compact", min(full_chars, 2000), min(full_chars // 2, 900), 2)
