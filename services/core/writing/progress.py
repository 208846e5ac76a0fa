"""Streams a generation to the job's clients: text deltas, a token-count progress bar, repairs."""

from __future__ import annotations

from services.core.jobs.context import JobContext, JobReporter
from services.core.llm.client import Completion


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

    def on_retry(self, problem: str) -> None:
        """The first answer was invalid JSON: clients drop its text, the repair streams anew."""
        self.repaired = True
        self.produced = 0
        self.label = f"{self.label}, repairing the JSON"
        self.reporter.reset(f"Invalid JSON ({problem}); asking the model to repair it")
        self.reporter.progress(self.start, self.label)


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
    """One streamed free-text generation of a job: stage message, deltas, token progress."""
    budget = max_tokens or ctx.settings.llm_max_tokens
    ctx.reporter.progress(start, label)
    stream = GenerationProgress(ctx.reporter, label=label, max_tokens=budget, start=start, end=end)
    return ctx.llm.stream_chat(
        messages, on_delta=stream.on_delta, max_tokens=budget, temperature=temperature
    )
