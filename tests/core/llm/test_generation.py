"""The guarded generation with a scripted LLM (fast; the real-LLM proof is
tests/api/test_generation_guard.py): stop early, retry stronger, cut with a warning, clean
prompt echoes, fail on empty answers."""

from __future__ import annotations

from typing import Any

import pytest

from services.core.llm.client import Completion
from services.core.llm.generation import TIDIED_MESSAGE, GenerationOptions, generate_text
from services.core.llm.output_checks import EmptyOutputError, clean_echo, echo_found
from services.core.llm.prompts import load_prompt
from services.core.llm.sampling import Sampling

GOOD = (
    "1. Ana decide vender o barco do pai para pagar a dívida com o armador, e perde a única "
    "ligação que tinha com ele.\n2. O irmão volta de Lisboa com uma carta que muda o que Ana "
    "sabia sobre o naufrágio.\n3. Uma tempestade prende todos no farol durante três dias."
)
LOOP = "Ana chegou ao farol. " + "O farol superior " * 200


class ScriptedLLM:
    """Streams its scripted answers word by word and honours `stop` like the real client."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def stream_chat(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
        self.calls.append(kw)
        text = self.answers.pop(0)
        sent, finish = "", "stop"
        words = text.split(" ")
        for n, piece in enumerate(words):
            piece += " " if n < len(words) - 1 else ""  # the pieces join to the text, as real
            sent += piece
            kw["on_delta"](piece)
            if kw.get("stop") is not None and kw["stop"]():
                finish = "stopped"
                break
        return Completion(sent, finish, "book-llm", 100, len(sent.split()))


MESSAGES = load_prompt("suggest", "pt-BR").render(
    bible="(nada)",
    memory="(nada)",
    book_title="O Mar",
    genre="drama",
    synopsis="(não informado)",
    chapter_title="A partida",
    chapter_text="Ana olhou o mar.",
    instructions="(nenhum)",
    paths="3",
)


def run(llm: ScriptedLLM, **options: Any) -> tuple[Completion, list[str], list[str]]:
    deltas: list[str] = []
    resets: list[str] = []
    opts = GenerationOptions(sampling=options.pop("sampling", Sampling(0.4)), **options)
    completion = generate_text(
        llm,  # type: ignore[arg-type]
        MESSAGES,
        opts,
        on_delta=deltas.append,
        on_reset=resets.append,
    )
    return completion, deltas, resets


def test_a_clean_answer_passes_through_once() -> None:
    llm = ScriptedLLM(GOOD)
    completion, _, resets = run(llm)
    assert completion.text == GOOD and not completion.warnings and resets == []
    assert completion.guard is not None and completion.guard["triggered"] is False
    assert len(llm.calls) == 1


def test_a_loop_is_stopped_and_retried_with_stronger_controls() -> None:
    llm = ScriptedLLM(LOOP, GOOD)
    completion, deltas, resets = run(llm)
    assert len(deltas) < 120, "the first stream was closed early"
    assert len(resets) == 1 and "repeating" in resets[0]
    first, second = llm.calls[0]["sampling_profile"], llm.calls[1]["sampling_profile"]
    assert second.repeat_penalty > first.repeat_penalty
    assert completion.text == GOOD and not completion.warnings
    guard = completion.guard
    assert guard is not None
    assert (guard["triggered"], guard["retried"], guard["truncated_at_chars"]) == (True, True, None)
    assert guard["attempts"][0]["finish_reason"] == "stopped"


def test_a_second_loop_ends_with_the_text_before_it_and_a_warning() -> None:
    completion, _, _ = run(ScriptedLLM(LOOP, LOOP))
    assert completion.text == "Ana chegou ao farol. O farol superior"
    assert [w["code"] for w in completion.warnings] == ["repetition"]
    assert "GPU presets" in completion.warnings[0]["message"]
    guard = completion.guard
    assert guard is not None and guard["truncated_at_chars"] == len(completion.text)
    assert guard["repeated_4gram_share"] < 0.15
    assert completion.receipt()["loop_guard"]["retried"] is True


def test_an_empty_answer_is_retried_then_fails_with_a_reason() -> None:
    assert run(ScriptedLLM("", GOOD))[0].text == GOOD
    with pytest.raises(EmptyOutputError, match="answered nothing"):
        run(ScriptedLLM("", "  "))


def test_guard_off_leaves_the_loop_as_the_model_wrote_it() -> None:
    completion, _, _ = run(ScriptedLLM(LOOP), sampling=None, guard=False, checks=False)
    assert completion.text == LOOP and completion.guard is None


def test_prompt_echo_is_cleaned_and_recorded() -> None:
    echoed = (
        "### user\n</capitulo>\n"
        "Proponha 3 caminhos narrativos numerados para continuar a partir deste capítulo\n" + GOOD
    )
    assert echo_found(echoed, MESSAGES) and not echo_found(GOOD, MESSAGES)
    assert clean_echo(echoed, MESSAGES).text == GOOD
    completion, _, _ = run(ScriptedLLM(echoed))
    assert completion.text == GOOD
    assert completion.guard is not None
    assert completion.guard["echo_removed"] == ["delimiters", "sections", "instructions"]


def test_an_answer_that_is_only_an_echo_fails() -> None:
    with pytest.raises(EmptyOutputError, match="instructions"):
        run(ScriptedLLM("</capitulo> <memoria>", "<capitulo>"))


def test_book_text_quoted_in_the_answer_is_not_an_echo() -> None:
    messages = load_prompt("critique", "pt-BR").render(
        bible="(nada)",
        book_title="O Mar",
        genre="drama",
        passages="[cap. 1 — A partida]\nAna tinha os olhos verdes como o mar de inverno.",
        chapter_position="2",
        chapter_title="A volta",
        chapter_text="Ana tinha os olhos castanhos, escuros como a terra molhada do quintal.",
        focus="(geral)",
    )
    quote = "O capítulo diz: Ana tinha os olhos castanhos, escuros como a terra molhada do quintal."
    assert not echo_found(quote, messages)


def test_a_tidied_answer_is_streamed_again_so_stream_and_result_agree() -> None:
    echoed = GOOD + "\n<capitulo>"
    completion, deltas, resets = run(ScriptedLLM(echoed))
    assert completion.text == GOOD.rstrip()
    assert resets == [TIDIED_MESSAGE]
    assert deltas[-1] == completion.text, "after the reset the tidied text streams whole"
