"""Sampling per kind from settings, and engine extras sent only to the engine that takes them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.core.config import Settings
from services.core.llm.client import params_from_name, server_info_from_models
from services.core.llm.profile import prompt_budget, resolve_profile
from services.core.llm.sampling import KIND_DEFAULTS, Sampling, sampling_for


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_each_kind_has_its_default_and_the_request_wins() -> None:
    s = settings()
    assert sampling_for(s, "critique") == KIND_DEFAULTS["critique"]
    assert sampling_for(s, "suggest").temperature != sampling_for(s, "critique").temperature
    assert sampling_for(s, "critique", temperature=1.2).temperature == 1.2
    assert sampling_for(s, "ideate").temperature == 0.7  # kinds without a default


def test_global_then_per_kind_settings_override_the_defaults() -> None:
    s = settings(
        LLM_TEMPERATURE="0.2",
        LLM_FREQUENCY_PENALTY="0.5",
        LLM_SAMPLING='{"critique": {"temperature": 0.1, "dry_multiplier": 1.5}}',
    )
    critique = sampling_for(s, "critique")
    assert (critique.temperature, critique.dry_multiplier, critique.frequency_penalty) == (
        0.1,
        1.5,
        0.5,
    )
    assert sampling_for(s, "ask").temperature == 0.2
    assert sampling_for(s, "critique", temperature=0.9).temperature == 0.9


@pytest.mark.parametrize(
    "value",
    ['{"critique": {"temprature": 0.1}}', '{"critique": 0.3}', "[1, 2]", "not json"],
)
def test_bad_sampling_setting_is_refused_with_the_names(value: str) -> None:
    with pytest.raises((ValidationError, ValueError)):
        settings(LLM_SAMPLING=value)


def test_extras_go_only_to_the_engine_that_takes_them() -> None:
    sampling = Sampling(0.4, 0.9, 0.3, 0.1, 1.1, 0.8)
    standard, llama = sampling.request("llamacpp")
    assert standard == {
        "temperature": 0.4,
        "top_p": 0.9,
        "frequency_penalty": 0.3,
        "presence_penalty": 0.1,
    }
    assert llama == {"repeat_penalty": 1.1, "dry_multiplier": 0.8}
    assert sampling.request("vllm") == (standard, {"repetition_penalty": 1.1})
    assert sampling.request(None) == (standard, {})  # another OpenAI-compatible server
    # Neutral values are not sent at all.
    assert Sampling(0.7).request("llamacpp") == ({"temperature": 0.7}, {})


def test_the_retry_is_stronger_on_every_control() -> None:
    base = KIND_DEFAULTS["critique"]
    strong = base.stronger()
    assert strong.repeat_penalty > base.repeat_penalty
    assert strong.frequency_penalty > base.frequency_penalty
    assert strong.dry_multiplier > base.dry_multiplier
    assert strong.temperature >= base.temperature
    assert Sampling(0.7).stronger().request("vllm")[1]["repetition_penalty"] > 1.0


def test_engine_and_size_come_from_the_models_list() -> None:
    llama = server_info_from_models(
        [{"id": "book-llm", "owned_by": "llamacpp", "meta": {"n_params": 134_515_008}}],
        "book-llm",
    )
    assert llama is not None and llama.engine == "llamacpp"
    assert llama.params_b == pytest.approx(0.1345, rel=1e-3)
    vllm = server_info_from_models(
        [{"id": "book-llm", "owned_by": "vllm", "root": "/m/SmolLM2-135M-Instruct.Q4_1-hf"}],
        "book-llm",
    )
    assert vllm is not None and (vllm.engine, vllm.params_b) == ("vllm", 0.135)
    other = server_info_from_models([{"id": "gpt-4o", "owned_by": "openai"}], "gpt-4o")
    assert other is not None and (other.engine, other.params_b) == (None, None)
    assert server_info_from_models([], "book-llm") is None


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("SmolLM2-135M-Instruct", 0.135),
        ("Qwen/Qwen2.5-14B-Instruct", 14.0),
        ("Qwen2.5-0.5B-Instruct", 0.5),
        ("microsoft/Phi-3.5-mini-instruct", None),
        ("llama-3.1-8b", 8.0),
        ("book-llm", None),
    ],
)
def test_size_from_a_model_name(name: str, size: float | None) -> None:
    assert params_from_name(name) == size


def test_prompt_profile_follows_the_model() -> None:
    small = server_info_from_models(
        [{"id": "book-llm", "owned_by": "llamacpp", "meta": {"n_params": 134_515_008}}],
        "book-llm",
    )
    big = server_info_from_models(
        [{"id": "book-llm", "owned_by": "vllm", "root": "Qwen/Qwen2.5-14B-Instruct"}],
        "book-llm",
    )
    auto = settings()
    assert resolve_profile(auto, small) == "compact"
    assert resolve_profile(auto, big) == "full"
    assert resolve_profile(auto, None) == "full"
    assert resolve_profile(settings(PROMPT_PROFILE="full"), small) == "full"
    assert resolve_profile(settings(PROMPT_PROFILE="compact"), big) == "compact"
    compact, full = prompt_budget(auto, "compact"), prompt_budget(auto, "full")
    assert compact.chapter_chars < full.chapter_chars and compact.max_passages is not None
