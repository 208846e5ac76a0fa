"""One free-text generation with its safety net: the loop guard, one retry, the output checks.

The guard watches the stream and closes it as soon as the text loops; the generation is tried
once more with stronger repetition controls; a second loop ends with the text before the loop
and a warning the author sees — never a success full of repeats. The receipt records it all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.core.llm.client import Completion, LLMClient
from services.core.llm.output_checks import EmptyOutputError, clean_echo
from services.core.llm.repetition import (
    LoopGuard,
    LoopVerdict,
    repeated_ngram_share,
    text_before_loop,
)
from services.core.llm.sampling import Sampling

# Above this share of repeated 4-grams a finished answer is flagged, even if no window of it
# looked like a loop (the goal of issue 18: nothing above 0.4 shown as a plain success).
FLAG_SHARE = 0.4
REPETITION_WARNING = {
    "code": "repetition",
    "message": (
        "the model started repeating itself; the answer stops before the loop. A larger model "
        "gives better results: see the GPU presets"
    ),
}
RETRY_MESSAGE = "The model started repeating itself; trying again with stronger repetition controls"
EMPTY_RETRY_MESSAGE = "The model gave an empty answer; trying again"
TIDIED_MESSAGE = "The answer was tidied: the repeated or copied text is left out"


@dataclass(frozen=True)
class GenerationOptions:
    """`sampling` None sends the temperature only (the behaviour before issue 18); `guard` and
    `checks` off leave the text exactly as the model wrote it (the bench's baseline)."""

    sampling: Sampling | None
    guard: bool = True
    checks: bool = True
    temperature: float | None = None
    max_tokens: int | None = None


def _attempt_record(completion: Completion, verdict: LoopVerdict | None) -> dict[str, Any]:
    return {
        "finish_reason": completion.finish_reason,
        "chars": len(completion.text),
        "completion_tokens": completion.completion_tokens or completion.streamed_pieces,
        "duration_s": round(completion.duration_s, 3),
        "loop_at_chars": verdict.keep_chars if verdict else None,
        "repeated_4gram_share": round(repeated_ngram_share(completion.text), 3),
    }


def _stopper(guard: LoopGuard | None) -> Callable[[], bool] | None:
    if guard is None:
        return None
    return lambda: guard.triggered


def generate_text(
    llm: LLMClient,
    messages: list[dict[str, str]],
    options: GenerationOptions,
    *,
    on_delta: Callable[[str], None],
    on_reset: Callable[[str], None],
) -> Completion:
    started = time.perf_counter()
    sampling = options.sampling
    attempts: list[dict[str, Any]] = []
    completion: Completion | None = None
    verdict: LoopVerdict | None = None
    streamed: list[str] = []
    for attempt in (1, 2):
        guard = LoopGuard() if options.guard else None
        streamed.clear()

        def piece(text: str, guard: LoopGuard | None = guard) -> None:
            if guard is not None:
                guard.feed(text)
            streamed.append(text)
            on_delta(text)

        completion = llm.stream_chat(
            messages,
            on_delta=piece,
            max_tokens=options.max_tokens,
            temperature=options.temperature if sampling is None else None,
            sampling_profile=sampling,
            stop=_stopper(guard),
        )
        verdict = guard.finish() if guard is not None else None
        attempts.append(_attempt_record(completion, verdict))
        empty = options.checks and not completion.text.strip()
        if not (verdict or empty) or not options.guard or attempt == 2:
            break
        on_reset(EMPTY_RETRY_MESSAGE if empty else RETRY_MESSAGE)
        sampling = (sampling or Sampling(options.temperature or 0.7)).stronger()
    assert completion is not None
    completion.duration_s = time.perf_counter() - started
    if not options.guard and not options.checks:
        return completion
    truncated_at: int | None = None
    if verdict is not None:
        completion.text = text_before_loop(completion.text, verdict)
        truncated_at = len(completion.text)
    removed: list[str] = []
    if options.checks:
        report = clean_echo(completion.text, messages)
        completion.text, removed = report.text, report.removed
        if not completion.text.strip():
            what = "only a copy of its instructions" if removed else "nothing"
            if truncated_at is not None:
                what = "only a loop of repeated words"
            raise EmptyOutputError(
                f"the model answered {what} (finish_reason: {completion.finish_reason}, "
                f"{len(attempts)} attempt(s)); try again, or use a larger model (GPU presets)"
            )
    if completion.text != "".join(streamed):
        # Clients show what streamed; the result is the tidied text, so they start over with it
        # (the same `reset` a retry sends) and stream and result always agree.
        on_reset(TIDIED_MESSAGE)
        on_delta(completion.text)
    share = repeated_ngram_share(completion.text)
    flagged = truncated_at is not None or share > FLAG_SHARE
    if flagged:
        completion.warnings.append(dict(REPETITION_WARNING))
    completion.guard = {
        "enabled": options.guard,
        "triggered": any(a["loop_at_chars"] is not None for a in attempts),
        "retried": len(attempts) > 1,
        "truncated_at_chars": truncated_at,
        "repeated_4gram_share": round(share, 3),
        "flagged": flagged,
        "echo_removed": removed,
        "attempts": attempts,
    }
    return completion
