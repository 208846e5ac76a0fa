"""`ideate` and `extract_metadata` through the real API, Celery worker and small LLM.

The small model's JSON is valid because decoding is constrained by the schema, not because the
model is good: the tests check the plumbing (schema, streaming, storage, failures), not quality.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.api.sse import SseEvent, parse_events
from services.core.config import Settings
from services.core.llm.client import LLMClient
from services.core.llm.structured import StructuredOutputError, complete_json
from services.core.writing.ideate import IdeaList
from services.core.writing.metadata import ChapterMetadata, build_messages
from tests.conftest import Stack
from tests.job_client import follow, submit


def follow_all(stack: Stack, job_ids: list[str]) -> list[list[SseEvent]]:
    """Follow the jobs side by side, each from while it runs (as the UI does)."""

    def one(job_id: str) -> list[SseEvent]:
        with stack.client() as client:
            return follow(client, job_id)

    with ThreadPoolExecutor(len(job_ids)) as pool:
        return list(pool.map(one, job_ids))


def succeeded(events: list[SseEvent]) -> dict[str, Any]:
    final = events[-1]
    assert final.event == "final"
    assert final.data["status"] == "succeeded", final.data["error"]
    progress = [e.data["progress"] for e in events if e.event == "progress"]
    assert progress == sorted(progress) and final.data["progress"] == 1.0
    result: dict[str, Any] = final.data["result"]
    # A repair is announced with a `reset` event, and only then does the second answer stream.
    resets = [i for i, e in enumerate(events) if e.event == "reset"]
    assert bool(resets) == result["receipt"]["json_repaired"]
    print(f"{final.data['kind']}: repaired={result['receipt']['json_repaired']}", end=" ")
    print(f"tokens={result['receipt']['completion_tokens']}")
    return result


def streamed_text(events: list[SseEvent]) -> str:
    """The answer as a client following the stream sees it: the deltas after the last reset."""
    start = max([i for i, e in enumerate(events) if e.event == "reset"], default=0)
    return "".join(e.data["text"] for e in events[start:] if e.event == "delta")


def new_chapter(api: httpx.Client, book_id: str, title: str, text: str) -> str:
    response = api.post("/chapter/save", json={"book_id": book_id, "title": title, "text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["chapter_id"])


@pytest.fixture()
def english_book(api: httpx.Client) -> str:
    response = api.post(
        "/books",
        json={
            "title": "The Lighthouse",
            "language": "en",
            "genre": "mystery",
            "synopsis": "A keeper finds letters from a drowned sailor.",
        },
    )
    assert response.status_code == 201, response.text
    book_id = str(response.json()["id"])
    new_chapter(api, book_id, "The first letter", "Tom found the letter under the lamp at dusk.")
    return book_id


def test_ideate_returns_schema_valid_ideas(
    api: httpx.Client,
    stack: Stack,
    book: dict[str, Any],
    chapter: dict[str, Any],
    english_book: str,
) -> None:
    runs = [
        (book["id"], {"count": 1, "theme": "saudade e recomeço", "max_tokens": 512}),
        (book["id"], {"count": 2, "max_tokens": 800}),
        (english_book, {"count": 3, "temperature": 0.5}),  # the default budget for 3 ideas
    ]
    # Submitted together: the worker and the LLM server run them side by side.
    jobs = [submit(api, "ideate", book_id, **params) for book_id, params in runs]
    for (book_id, params), events in zip(runs, follow_all(stack, jobs), strict=True):
        result = succeeded(events)
        ideas = IdeaList.model_validate({"ideas": result["ideas"]}).ideas
        # llama.cpp honours minItems/maxItems, so the count is exact and nothing is noted.
        assert len(ideas) == params["count"] == result["requested"] and result["notes"] == []
        assert all(idea.title.strip() and idea.logline.strip() for idea in ideas)
        # The JSON streamed as it was generated, and it is the answer that was kept.
        assert IdeaList.model_validate_json(streamed_text(events)).ideas == ideas
        assert result["language"] == ("en" if book_id == english_book else "pt-BR")
        receipt = result["receipt"]
        assert receipt["completion_tokens"] > 0 and receipt["passages"] == []
        assert receipt["finish_reason"] == "stop" and receipt["model"]
        artifact = api.get(f"/artifacts/{result['artifact_id']}").json()
        assert artifact["kind"] == "ideas" and artifact["chapter_id"] is None
        assert artifact["data"] == {"ideas": result["ideas"]}
        assert artifact["text"].startswith(f"## 1. {ideas[0].title}")


def test_extract_metadata_stores_it_on_the_chapter(
    api: httpx.Client,
    stack: Stack,
    book: dict[str, Any],
    chapter: dict[str, Any],
    english_book: str,
) -> None:
    long_text = (
        "Na manhã de inverno de 1922, Ana e o irmão Pedro caminharam pelo cais de Lisboa. "
        "O navio partiria ao meio-dia para o Rio de Janeiro, e Pedro não queria ir. "
    ) * 3
    english_chapter = api.get(f"/books/{english_book}/chapters").json()[0]["id"]
    targets = [
        (book["id"], chapter["chapter_id"]),
        (book["id"], new_chapter(api, book["id"], "O cais", long_text)),
        (english_book, english_chapter),
    ]
    # The default budget: the worst case the schema allows, so a looping answer is not cut.
    jobs = [submit(api, "extract_metadata", b, c) for b, c in targets]
    for (_, chapter_id), events in zip(targets, follow_all(stack, jobs), strict=True):
        result = succeeded(events)
        metadata = ChapterMetadata.model_validate(result["metadata"])
        assert metadata.genre.strip() and metadata.tone.strip() and metadata.pov.strip()
        assert result["stored"] is True and result["chapter_revision"] == 1
        stored = api.get(f"/chapters/{chapter_id}").json()
        assert stored["metadata"] == result["metadata"] == metadata.model_dump()
        artifact = api.get(f"/artifacts/{result['artifact_id']}").json()
        assert artifact["kind"] == "metadata" and artifact["chapter_id"] == chapter_id
        assert artifact["data"] == result["metadata"]


def test_metadata_is_not_stored_over_a_newer_revision(
    api: httpx.Client, stack: Stack, chapter: dict[str, Any]
) -> None:
    job_id = submit(api, "extract_metadata", chapter["book_id"], chapter["chapter_id"])
    events: list[SseEvent] = []
    with api.stream("GET", f"/jobs/{job_id}/events") as response:
        for event in parse_events(response.iter_lines()):
            events.append(event)
            if event.event == "delta" and sum(e.event == "delta" for e in events) == 1:
                # The job has read revision 1 and is generating: the author saves revision 2.
                with stack.client() as other:
                    saved = other.put(
                        "/chapter/update",
                        json={
                            "book_id": chapter["book_id"],
                            "chapter_id": chapter["chapter_id"],
                            "text": "Ana desistiu da viagem e voltou para casa.",
                        },
                    )
                    assert saved.status_code == 200, saved.text
    result = succeeded(events)
    assert result["stored"] is False and result["chapter_revision"] == 1
    assert "not stored" in result["notes"][0]
    after = api.get(f"/chapters/{chapter['chapter_id']}").json()
    assert after["current_revision"] == 2 and after["metadata"] == {}


def test_invalid_params_are_422_naming_the_field(
    api: httpx.Client, book: dict[str, Any], chapter: dict[str, Any]
) -> None:
    book_id, chapter_id = book["id"], chapter["chapter_id"]
    cases = [
        ("ideate", book_id, None, {"count": 11}, "count"),
        ("ideate", book_id, None, {"count": 0}, "count"),
        ("ideate", book_id, None, {"theme": "x" * 2001}, "theme"),
        ("ideate", book_id, None, {"max_tokens": 10}, "max_tokens"),
        ("ideate", book_id, None, {"colour": "red"}, "colour"),
        ("ideate", None, None, {}, "book_id"),
        ("extract_metadata", book_id, chapter_id, {"temperature": 5}, "temperature"),
        ("extract_metadata", book_id, chapter_id, {"count": 2}, "count"),
        ("extract_metadata", book_id, None, {}, "chapter_id"),
    ]
    for kind, b, c, params, field in cases:
        response = api.post(
            "/jobs", json={"kind": kind, "book_id": b, "chapter_id": c, "params": params}
        )
        assert response.status_code == 422, (kind, params, response.text)
        assert field in response.json()["detail"], (kind, params, response.text)
    # The original endpoints take the same params.
    shim = api.post("/ideate", json={"book_id": book_id, "count": 11})
    assert shim.status_code == 422 and "count" in shim.text
    unknown = api.post("/jobs", json={"kind": "dance", "book_id": book_id}).json()["detail"]
    assert "extract_metadata" in unknown and "ideate" in unknown


def test_json_cut_by_max_tokens_fails_the_job_readably(
    api: httpx.Client, book: dict[str, Any]
) -> None:
    # Ten ideas cannot fit in 64 tokens: both the answer and its repair are cut.
    events = follow(api, submit(api, "ideate", book["id"], count=10, max_tokens=64))
    final = events[-1].data
    assert final["status"] == "failed" and final["result"] is None
    assert "did not produce valid JSON after a repair attempt" in final["error"]
    assert "max_tokens" in final["error"] and "internal error" not in final["error"]
    assert [e.event for e in events].count("reset") == 1


def test_real_llm_json_cut_by_max_tokens_raises_a_readable_error(llm_url: str) -> None:
    llm = LLMClient(Settings(_env_file=None, LLM_BASE_URL=llm_url))  # type: ignore[call-arg]
    messages = build_messages(
        language="pt-BR",
        book_title="O Mar",
        genre="drama",
        chapter_title="A partida",
        chapter_text="Ana olhou o mar pela última vez antes de embarcar para Lisboa.",
    )
    retries: list[str] = []
    deltas: list[str] = []
    with pytest.raises(StructuredOutputError) as caught:
        complete_json(
            llm,
            messages,
            ChapterMetadata,
            on_delta=deltas.append,
            on_retry=retries.append,
            max_tokens=8,
        )
    assert retries == ["the answer was cut off by max_tokens before the JSON ended"]
    assert "max_tokens" in str(caught.value) and "its answer began with" in str(caught.value)
    assert "".join(deltas).startswith("{")
