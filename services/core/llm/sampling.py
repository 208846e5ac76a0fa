"""Sampling per job kind, and the engine-specific fields each server accepts.

The OpenAI-compatible API has temperature, top_p and the frequency/presence penalties; the
repetition controls that matter most for a small model are engine extras (llama.cpp's
`repeat_penalty` and DRY sampler, vLLM's `repetition_penalty`), sent in `extra_body` and only to
the engine that takes them: another server may reject a field it does not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from services.core.config import Settings

ENGINES = ("llamacpp", "vllm")


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    # Multiplicative penalty on recent tokens: llama.cpp `repeat_penalty`, vLLM
    # `repetition_penalty` (1.0 = off).
    repeat_penalty: float = 1.0
    # llama.cpp's DRY ("don't repeat yourself") sampler: penalises extending a sequence that
    # already occurred; 0 = off. vLLM has no DRY.
    dry_multiplier: float = 0.0

    def stronger(self) -> Sampling:
        """For the retry after a loop: every repetition control up a step, a little more heat
        (a tiny model stuck in a loop is stuck on its likeliest tokens)."""
        return dataclasses.replace(
            self,
            temperature=round(min(1.0, max(self.temperature, 0.6) + 0.1), 3),
            frequency_penalty=round(min(1.0, self.frequency_penalty + 0.4), 3),
            presence_penalty=round(min(1.0, self.presence_penalty + 0.2), 3),
            repeat_penalty=round(max(self.repeat_penalty, 1.1) + 0.1, 3),
            dry_multiplier=max(self.dry_multiplier, 0.8) + 0.4,
        )

    def request(self, engine: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(standard OpenAI fields, `extra_body` for this engine). Unknown engines get no extras;
        values at their neutral setting are not sent at all."""
        standard: dict[str, Any] = {"temperature": self.temperature}
        if self.top_p < 1.0:
            standard["top_p"] = self.top_p
        if self.frequency_penalty:
            standard["frequency_penalty"] = self.frequency_penalty
        if self.presence_penalty:
            standard["presence_penalty"] = self.presence_penalty
        extra: dict[str, Any] = {}
        if engine == "llamacpp":
            if self.repeat_penalty != 1.0:
                extra["repeat_penalty"] = self.repeat_penalty
            if self.dry_multiplier > 0:
                extra["dry_multiplier"] = self.dry_multiplier
        elif engine == "vllm" and self.repeat_penalty != 1.0:
            extra["repetition_penalty"] = self.repeat_penalty
        return standard, extra


# Built-in defaults, checked with bench/generation_quality.py on SmolLM2-135M (BENCHMARKS.md,
# issue 18: median repeated-4-gram share 0.62 → 0.07 together with the guard and compact
# prompts; not yet tuned by a sweep). A critique and an answer want the likelier reading, a
# suggestion and a scene some variety; frequency penalty and DRY keep the small model out of
# loops.
KIND_DEFAULTS: dict[str, Sampling] = {
    "suggest": Sampling(0.7, 0.9, 0.3, 0.0, 1.1, 0.8),
    "critique": Sampling(0.4, 0.9, 0.3, 0.0, 1.1, 0.8),
    "ask": Sampling(0.3, 0.9, 0.2, 0.0, 1.1, 0.8),
    "expand": Sampling(0.8, 0.95, 0.3, 0.0, 1.1, 0.8),
}
FALLBACK = Sampling(0.7, 0.95, 0.3, 0.0, 1.1, 0.8)
# What a run without the new controls sent (temperature only): the bench's baseline.
LEGACY = Sampling(0.7)


def sampling_for(settings: Settings, kind: str, temperature: float | None = None) -> Sampling:
    """A job's sampling: the request's temperature, else LLM_SAMPLING[kind], else the global
    LLM_TEMPERATURE / LLM_TOP_P / penalties when set, else the kind's built-in default."""
    base = KIND_DEFAULTS.get(kind, FALLBACK)
    globals_set = {
        "temperature": settings.llm_temperature,
        "top_p": settings.llm_top_p,
        "frequency_penalty": settings.llm_frequency_penalty,
        "presence_penalty": settings.llm_presence_penalty,
        "repeat_penalty": settings.llm_repeat_penalty,
        "dry_multiplier": settings.llm_dry_multiplier,
    }
    values: dict[str, Any] = {k: v for k, v in globals_set.items() if v is not None}
    values.update(settings.llm_sampling.get(kind, {}))
    if temperature is not None:
        values["temperature"] = temperature
    return dataclasses.replace(base, **values)
