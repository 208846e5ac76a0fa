"""complete_json's decision logic: accept valid JSON, repair once, then give up with a reason.

The only fake LLM in the suite: these cases need exact, repeatable answers (a cut-off answer,
an answer that breaks the schema), which the real small model produces only by chance.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import BaseModel, Field

from services.core.llm.client import Completion, LLMClient, LLMError
from services.core.llm.structured import StructuredOutputError, complete_json


class Pair(BaseModel):
    name: str = Field(min_length=1)
    tags: list[str]


class CannedLLM:
    """Answers each call with the next canned (text, finish_reason), streaming it as one delta."""

    def __init__(self, *answers: tuple[str, str]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        on_delta: Any,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        self.calls.append(
            {"messages": list(messages), "json_schema": json_schema, "max_tokens": max_tokens}
        )
        text, finish_reason = self.answers.pop(0)
        on_delta(text)
        return Completion(text=text, finish_reason=finish_reason, model="canned")


PROMPT = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Go."}]
VALID = '{"name": "Ana", "tags": ["sea"]}'


def run(llm: CannedLLM, **kwargs: Any) -> tuple[Pair, Completion, list[str], list[str]]:
    deltas: list[str] = []
    retries: list[str] = []
    answer, completion = complete_json(
        cast(LLMClient, llm),
        PROMPT,
        Pair,
        on_delta=deltas.append,
        on_retry=retries.append,
        **kwargs,
    )
    return answer, completion, deltas, retries


def test_a_valid_first_answer_is_returned_without_a_repair() -> None:
    llm = CannedLLM((VALID, "stop"))
    answer, completion, deltas, retries = run(llm, max_tokens=100)
    assert answer == Pair(name="Ana", tags=["sea"]) and completion.text == VALID
    assert deltas == [VALID] and retries == []
    assert len(llm.calls) == 1
    # The schema goes to the server for constrained decoding.
    assert llm.calls[0]["json_schema"] == Pair.model_json_schema()
    assert llm.calls[0]["messages"] == PROMPT and llm.calls[0]["max_tokens"] == 100


def test_an_invalid_answer_is_repaired_once() -> None:
    bad = '{"name": "", "tags": ["sea"]}'
    llm = CannedLLM((bad, "stop"), (VALID, "stop"))
    answer, _, deltas, retries = run(llm)
    assert answer.name == "Ana"
    assert deltas == [bad, VALID]
    assert len(retries) == 1 and retries[0].startswith("name:")
    repair = llm.calls[1]["messages"]
    # The repair shows the model its own answer and says what is wrong with it.
    assert repair[: len(PROMPT)] == PROMPT
    assert repair[len(PROMPT)] == {"role": "assistant", "content": bad}
    assert repair[-1]["role"] == "user" and retries[0] in repair[-1]["content"]


def test_invalid_twice_raises_a_readable_error() -> None:
    llm = CannedLLM(('{"name": "Ana"}', "stop"), ("not json at all", "stop"))
    with pytest.raises(StructuredOutputError) as caught:
        run(llm)
    message = str(caught.value)
    assert isinstance(caught.value, LLMError)  # the runner fails the job, it does not crash
    assert "did not produce valid JSON after a repair attempt" in message
    assert "Invalid JSON" in message and '"not json at all"' in message
    assert len(llm.calls) == 2


def test_an_answer_cut_by_max_tokens_is_invalid_even_if_it_parses() -> None:
    # A cut answer can still parse (e.g. a list cut after a complete item): it is incomplete.
    llm = CannedLLM((VALID, "length"), (VALID, "stop"))
    answer, _, _, retries = run(llm, max_tokens=8)
    assert answer.name == "Ana"
    assert retries == ["the answer was cut off by max_tokens before the JSON ended"]

    cut_twice = CannedLLM(('{"name": "A', "length"), ('{"name": "An', "length"))
    with pytest.raises(StructuredOutputError, match="max_tokens"):
        run(cut_twice, max_tokens=8)
