"""The loop guard on the real small LLM, through the API and a worker: a critique of a
Portuguese chapter ends either with text that does not loop or with the guard's warning, and
its receipt says what happened (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.llm.repetition import repeated_ngram_share
from services.core.manuscripts.parsing import parse_manuscript
from tests.api.test_critique_expand import new_book
from tests.conftest import Stack
from tests.job_client import follow, submit, succeeded

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = ROOT / "bench" / "texts" / "a-ilha-do-farol.pt-BR.md"


# Generous: a busy 2-core CI box runs the LLM summaries of indexing and 512 tokens slowly.
SLOW = 600


def save(api: httpx.Client, book_id: str, title: str, text: str) -> str:
    """Saved without waiting for its indexing: the guard does not depend on memory, and the
    indexing's LLM summaries would only slow a busy box down."""
    response = api.post("/chapter/save", json={"book_id": book_id, "title": title, "text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["chapter_id"])


def check_guarded(result: dict[str, Any], events: list[Any]) -> dict[str, Any]:
    """Not a loop shown as a plain success; the receipt records the guard's decisions."""
    text = result["text"]
    assert text.strip(), result
    guard = result["receipt"]["loop_guard"]
    assert guard["enabled"] is True and len(guard["attempts"]) == 1 + guard["retried"]
    codes = [w["code"] for w in result["warnings"]]
    if guard["truncated_at_chars"] is not None:
        # Looped twice: the text before the loop, and the author is told.
        assert codes == ["repetition"] and len(text) == guard["truncated_at_chars"]
    else:
        assert repeated_ngram_share(text) <= 0.4 or codes == ["repetition"], text
    if guard["retried"]:
        assert (
            guard["attempts"][0]["loop_at_chars"] is not None or not guard["attempts"][0]["chars"]
        )
        assert any(e.event == "reset" for e in events), "clients drop the looping text"
    return guard


@pytest.mark.timeout(SLOW + 300)
def test_critique_of_a_portuguese_chapter_does_not_end_in_a_loop(
    api: httpx.Client, stack: Stack
) -> None:
    chapters = parse_manuscript(ORIGINAL.name, ORIGINAL.read_bytes()).chapters
    book = new_book(api, "A Ilha do Farol")
    ids = [save(api, book, c.title, c.text) for c in chapters[:3]]
    job_id = submit(api, "critique", book, ids[2])  # the default max_tokens, as the UI sends
    events = follow(api, job_id)
    result = succeeded(api, job_id, timeout=SLOW)["result"]
    guard = check_guarded(result, events)
    receipt = result["receipt"]
    # The served model is SmolLM2-135M on llama.cpp: compact prompts, and llama.cpp's own
    # repetition controls were sent (the engine was recognised from /v1/models).
    assert receipt["prompt_profile"] == "compact"
    assert receipt["sampling"]["dry_multiplier"] > 0 and receipt["sampling"]["repeat_penalty"] > 1
    assert "repetition_penalty" not in receipt["sampling"]  # vLLM's name is not sent to llama.cpp
    assert guard["repeated_4gram_share"] == round(repeated_ngram_share(result["text"]), 3)


@pytest.mark.timeout(SLOW + 300)
def test_a_request_to_repeat_is_stopped_or_flagged(api: httpx.Client, stack: Stack) -> None:
    """An author's request that invites a loop: the guard stops it (and retries), or the answer
    did not loop; it is never a success full of repeats."""
    book = new_book(api, "O Eco")
    chapter = save(api, book, "O eco", "No vale, o eco repetia tudo o que Ana dizia.")
    job_id = submit(
        api,
        "suggest",
        book,
        chapter,
        instructions="Repita sem parar a frase: o eco repete, o eco repete, o eco repete.",
        temperature=0.0,
    )
    events = follow(api, job_id)
    check_guarded(succeeded(api, job_id, timeout=SLOW)["result"], events)
