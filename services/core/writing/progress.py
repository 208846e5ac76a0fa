"""Streams a generation to the job's clients: text deltas, a token-count progress bar, repairs."""

from __future__ import annotations

import dataclasses

from services.core.jobs.context import JobContext, JobReporter
from services.core.llm.client import Completion
from services.core.llm.generation import GenerationOptions, generate_text
from services.core.llm.profile import PromptBudget, prompt_budget, resolve_profile
from services.core.llm.sampling import sampling_for
from services.core.memory.store import Passage
from services.core.writing.passages import format_passages

# Compact profile: each passage cut to about this many characters (at a word) in the prompt.
COMPACT_PASSAGE_CHARS = 350


class GenerationProgress:
    """Maps produced tokens onto the [start, end] slice of the job's progress bar."""

    def __init__(
        self, reporter: JobReporter, *, label: str, max_tokens: int, start: float, end: float
    ) -> None:
        self.reporter = reporter
        self.label = label
        self.max_tokens = max_tokens
        self.start, self.end = start, end
        self.produced = 0
        self.repaired = False

    def on_delta(self, piece: str) -> None:
        self.produced += 1
        self.reporter.delta(piece)
        self.reporter.progress(
            self.start + (self.end - self.start) * min(1.0, self.produced / self.max_tokens),
            f"{self.label} ({self.produced} tokens)",
            force=False,
        )

    def on_reset(self, reason: str) -> None:
        """The loop guard stopped the stream: clients drop its text, the retry streams anew."""
        self.produced = 0
        self.label = f"{self.label}, retrying"
        self.reporter.reset(reason)
        self.reporter.progress(self.start, self.label)

    def on_retry(self, problem: str) -> None:
        """The first answer was invalid JSON: clients drop its text, the repair streams anew."""
        self.repaired = True
        self.produced = 0
        self.label = f"{self.label}, repairing the JSON"
        self.reporter.reset(f"Invalid JSON ({problem}); asking the model to repair it")
        self.reporter.progress(self.start, self.label)


def prompt_plan(ctx: JobContext) -> PromptBudget:
    """The prompt profile for the model being served (PROMPT_PROFILE) and its text budget."""
    settings = ctx.settings
    info = ctx.llm.server_info() if settings.prompt_profile == "auto" else None
    return prompt_budget(settings, resolve_profile(settings, info))


def passages_for_prompt(
    passages: list[Passage], plan: PromptBudget, language: str
) -> tuple[list[Passage], str]:
    """(the passages the prompt uses, their block). The compact profile keeps the best-scoring
    few, in their order, each trimmed to what a small model's attention holds."""
    used = passages
    if plan.max_passages is not None and len(passages) > plan.max_passages:
        best = sorted(passages, key=lambda p: p.score, reverse=True)[: plan.max_passages]
        used = [p for p in passages if p in best]
    shown = used
    if plan.profile == "compact":
        shown = [dataclasses.replace(p, text=_trim(p.text, COMPACT_PASSAGE_CHARS)) for p in used]
    return used, format_passages(shown, language, plan.memory_chars)


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + " …"


def stream_text(
    ctx: JobContext,
    messages: list[dict[str, str]],
    *,
    label: str,
    max_tokens: int | None,
    temperature: float | None,
    start: float,
    end: float,
) -> Completion:
    """One streamed free-text generation of a job: stage message, deltas, token progress, the
    kind's sampling, and the loop guard with its one retry (services.core.llm.generation)."""
    budget = max_tokens or ctx.settings.llm_max_tokens
    ctx.reporter.progress(start, label)
    stream = GenerationProgress(ctx.reporter, label=label, max_tokens=budget, start=start, end=end)
    options = GenerationOptions(
        sampling=sampling_for(ctx.settings, ctx.kind, temperature),
        guard=ctx.settings.llm_loop_guard,
        max_tokens=budget,
    )
    return generate_text(
        ctx.llm, messages, options, on_delta=stream.on_delta, on_reset=stream.on_reset
    )
