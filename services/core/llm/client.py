"""The OpenAI-compatible LLM client: streaming chat with usage, and errors sorted into retryable or not."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from services.core.config import Settings


class LLMError(Exception):
    """The LLM answered, but not usefully (bad request, bad output): retrying will not help."""


class TransientLLMError(LLMError):
    """Connection refused, timeout, 5xx or 429: worth retrying with backoff."""


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    duration_s: float = 0.0
    time_to_first_token_s: float | None = None
    sampling: dict[str, Any] = field(default_factory=dict)

    def receipt(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "duration_s": round(self.duration_s, 3),
            "time_to_first_token_s": (
                round(self.time_to_first_token_s, 3) if self.time_to_first_token_s else None
            ),
            "sampling": self.sampling,
        }


_TRANSIENT = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
    httpx.TransportError,
)


def _response_format(schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {}
    # Constrained decoding: llama.cpp and vLLM both turn the schema into a grammar.
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "result", "schema": schema, "strict": True},
        }
    }


class LLMClient:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.openai_model
        self.default_max_tokens = settings.llm_max_tokens
        self.default_temperature = settings.llm_temperature
        self._client = OpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.openai_api_key or "not-needed",
            timeout=httpx.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s),
            max_retries=settings.llm_max_retries,
        )

    def list_models(self) -> list[str]:
        try:
            return [m.id for m in self._client.with_options(max_retries=0, timeout=3).models.list()]
        except _TRANSIENT as exc:
            raise TransientLLMError(f"LLM server unreachable: {exc}") from exc

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        on_delta: Callable[[str], None],
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        sampling: dict[str, Any] = {
            "max_tokens": max_tokens or self.default_max_tokens,
            "temperature": self.default_temperature if temperature is None else temperature,
        }
        started = time.perf_counter()
        first_token_at: float | None = None
        parts: list[str] = []
        finish_reason: str | None = None
        usage = None
        model = self.model
        try:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=int(sampling["max_tokens"]),
                temperature=float(sampling["temperature"]),
                **_response_format(json_schema),
            )
            # Closed here, whatever on_delta raises (a cancelled job stops mid-stream): left to
            # the garbage collector, the abandoned stream closes its response at a random moment,
            # possibly inside another thread holding the shared connection pool's lock, which
            # deadlocks every thread of the worker on that pool.
            with stream:
                for chunk in stream:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        text = choice.delta.content if choice.delta else None
                        if text:
                            if first_token_at is None:
                                first_token_at = time.perf_counter()
                            parts.append(text)
                            on_delta(text)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
        except _TRANSIENT as exc:
            raise TransientLLMError(f"LLM request failed: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM rejected the request ({exc.status_code}): {exc.message}") from exc
        return Completion(
            text="".join(parts),
            finish_reason=finish_reason,
            model=model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            duration_s=time.perf_counter() - started,
            time_to_first_token_s=(first_token_at - started) if first_token_at else None,
            sampling=sampling,
        )
