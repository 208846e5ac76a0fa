"""The OpenAI-compatible LLM client: streaming chat with usage, and errors sorted into retryable or not."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from services.core.config import Settings
from services.core.llm.sampling import ENGINES, Sampling


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
    # Set by the loop guard / output checks (services.core.llm.generation): what happened to
    # this generation, recorded in the receipt, and warnings the result shows the author.
    guard: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    # Pieces streamed; the usage chunk never comes when the stream is closed early.
    streamed_pieces: int = 0

    def receipt(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"loop_guard": self.guard} if self.guard is not None else {}
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
            **extra,
        }


@dataclass(frozen=True)
class ServerInfo:
    """What /v1/models says about the server: its engine and, when it tells, the model's size."""

    engine: str | None  # llamacpp | vllm | None (another OpenAI-compatible server)
    model: str
    params_b: float | None  # billions of parameters


_SIZE_IN_NAME = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


def params_from_name(name: str) -> float | None:
    """`SmolLM2-135M-Instruct` → 0.135, `Qwen2.5-14B-Instruct` → 14; None when the name says not."""
    found = _SIZE_IN_NAME.findall(name.replace("_", "-"))
    if not found:
        return None
    number, unit = found[-1]
    return float(number) / (1000.0 if unit.lower() == "m" else 1.0)


def server_info_from_models(data: list[dict[str, Any]], served: str) -> ServerInfo | None:
    """llama.cpp answers `owned_by: llamacpp` and `meta.n_params`; vLLM `owned_by: vllm` and
    the model's path in `root`. Anything else is another server: no engine extras for it."""
    entry = next((m for m in data if m.get("id") == served), data[0] if data else None)
    if entry is None:
        return None
    owner = str(entry.get("owned_by") or "").lower()
    engine = owner if owner in ENGINES else None
    params_b: float | None = None
    meta = entry.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("n_params"), int | float):
        params_b = float(meta["n_params"]) / 1e9
    else:
        params_b = params_from_name(str(entry.get("root") or "")) or params_from_name(
            str(entry.get("id") or "")
        )
    return ServerInfo(engine=engine, model=str(entry.get("id") or served), params_b=params_b)


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
        self.default_temperature = (
            settings.llm_temperature if settings.llm_temperature is not None else 0.7
        )
        # Used only while /v1/models cannot be read (the probe decides otherwise).
        self.configured_engine = settings.llm_engine if settings.llm_engine in ENGINES else None
        self._info: ServerInfo | None = None
        # A hanging server must not hold a job longer than its own requests would.
        self._probe_timeout = min(5.0, settings.llm_timeout_s)
        self._info_lock = threading.Lock()
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

    def server_info(self) -> ServerInfo | None:
        """The server's engine and model size, read once from /v1/models; None while it cannot
        be read (asked again next time)."""
        if self._info is not None:
            return self._info
        try:
            page = self._client.with_options(
                max_retries=0, timeout=self._probe_timeout
            ).models.list()
            data = [m.model_dump() for m in page.data]
        except (openai.OpenAIError, httpx.HTTPError, ValueError):
            return None
        info = server_info_from_models(data, self.model)
        with self._info_lock:
            self._info = self._info or info
        return self._info

    def engine(self) -> str | None:
        info = self.server_info()
        return info.engine if info is not None else self.configured_engine

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        on_delta: Callable[[str], None],
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
        sampling_profile: Sampling | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Completion:
        """Stream one chat completion. `sampling_profile` adds top_p, penalties and the engine's
        extras (only to llama.cpp or vLLM); `stop` is asked after every piece and closes the
        stream early when true (finish_reason `stopped`)."""
        standard: dict[str, Any] = {
            "temperature": self.default_temperature if temperature is None else temperature
        }
        extra_body: dict[str, Any] = {}
        if sampling_profile is not None:
            standard, extra_body = sampling_profile.request(self.engine())
        sampling: dict[str, Any] = {
            "max_tokens": max_tokens or self.default_max_tokens,
            **standard,
            **extra_body,
        }
        started = time.perf_counter()
        first_token_at: float | None = None
        parts: list[str] = []
        finish_reason: str | None = None
        pieces = 0
        usage = None
        model = self.model
        try:
            request: dict[str, Any] = {
                "max_tokens": int(sampling["max_tokens"]),
                **standard,
                **_response_format(json_schema),
            }
            if extra_body:
                request["extra_body"] = extra_body
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                stream=True,
                stream_options={"include_usage": True},
                **request,
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
                            pieces += 1
                            on_delta(text)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                    if stop is not None and stop():
                        # Leaving the `with` closes the response: the server sees the client
                        # go and stops generating (llama.cpp frees the slot, vLLM aborts).
                        finish_reason = "stopped"
                        break
        except _TRANSIENT as exc:
            raise TransientLLMError(f"LLM request failed: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM rejected the request ({exc.status_code}): {exc.message}") from exc
        return Completion(
            text="".join(parts),
            finish_reason=finish_reason,
            model=model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            # A stream closed early gets no usage chunk: count the pieces (≈ tokens) instead.
            completion_tokens=(
                usage.completion_tokens
                if usage
                else (pieces if finish_reason == "stopped" else None)
            ),
            duration_s=time.perf_counter() - started,
            time_to_first_token_s=(first_token_at - started) if first_token_at else None,
            sampling=sampling,
            streamed_pieces=pieces,
        )
