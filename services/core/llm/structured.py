"""JSON answers that follow a Pydantic schema: constrained decoding, validation, one repair."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from services.core.llm.client import Completion, LLMClient, LLMError

T = TypeVar("T", bound=BaseModel)

REPAIR_PROMPT = (
    "Your previous answer was not valid JSON for the required schema.\n"
    "Problem: {problem}\n"
    "Answer again with only the corrected JSON object, nothing else."
)


class StructuredOutputError(LLMError):
    """The model's JSON stayed invalid after the repair attempt."""


def _problem(completion: Completion, model: type[BaseModel]) -> str | None:
    if completion.finish_reason == "length":
        return "the answer was cut off by max_tokens before the JSON ended"
    try:
        model.model_validate_json(completion.text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        return f"{where}: {first['msg']}"
    return None


def complete_json(
    llm: LLMClient,
    messages: list[dict[str, str]],
    model: type[T],
    *,
    on_delta: Callable[[str], None],
    on_retry: Callable[[str], None] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> tuple[T, Completion]:
    """Ask for JSON matching `model`; on invalid output ask once to repair it, then give up."""
    schema = model.model_json_schema()
    conversation = list(messages)
    completion: Completion | None = None
    for attempt in (1, 2):
        completion = llm.stream_chat(
            conversation,
            on_delta=on_delta,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=schema,
        )
        problem = _problem(completion, model)
        if problem is None:
            return model.model_validate_json(completion.text), completion
        if attempt == 1:
            if on_retry is not None:
                on_retry(problem)
            conversation = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": REPAIR_PROMPT.format(problem=problem)},
            ]
    assert completion is not None
    excerpt = json.dumps(completion.text[:200], ensure_ascii=False)
    raise StructuredOutputError(
        f"the model did not produce valid JSON after a repair attempt ({problem}); "
        f"its answer began with {excerpt}"
    )
