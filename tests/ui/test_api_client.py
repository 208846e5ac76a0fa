"""The UI's API client against the real API: answers, and errors turned into readable messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.ui.api_client import (
    NO_RESPONSE,
    ApiClient,
    ApiError,
    JobEvent,
    error_message,
    parse_sse,
)
from services.ui.settings import UiSettings
from tests.conftest import Stack, free_port, start_stack


@pytest.fixture()
def client(stack: Stack) -> Iterator[ApiClient]:
    with ApiClient(stack.api_url) as api:
        yield api


def test_blank_title_is_a_422_that_names_the_field(client: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.create_book("", "pt-BR")
    assert caught.value.status == 422
    assert caught.value.message == "title: String should have at least 1 character"


def test_validator_messages_lose_their_pydantic_prefix(client: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.create_book("   ", "klingon")
    assert caught.value.status == 422
    # Both problems in one sentence, each with its field.
    assert caught.value.message == (
        "title: title must not be blank; language: language must be one of pt-BR, en"
    )


def test_detail_strings_pass_through_unchanged(client: ApiClient, api: httpx.Client) -> None:
    raw = api.get("/books/no-such-book")
    assert raw.status_code == 404
    with pytest.raises(ApiError) as caught:
        client.get_book("no-such-book")
    assert caught.value.status == 404
    assert caught.value.message == raw.json()["detail"]
    assert "no-such-book" in str(caught.value)


def test_stale_overwrite_is_a_409(client: ApiClient, chapter: dict[str, object]) -> None:
    book_id, chapter_id = str(chapter["book_id"]), str(chapter["chapter_id"])
    saved = client.update_chapter(book_id, chapter_id, text="Nova versão.", expected_revision=1)
    assert saved["revision"] == 2
    with pytest.raises(ApiError) as caught:
        client.update_chapter(book_id, chapter_id, text="Versão velha.", expected_revision=1)
    assert caught.value.status == 409
    assert caught.value.message and not caught.value.message.startswith("HTTP")
    assert client.get_chapter(chapter_id)["text"] == "Nova versão."


def test_books_and_chapters_round_trip(client: ApiClient) -> None:
    book = client.create_book("Memórias", "en", genre="memoir", synopsis="A life.")
    assert (book["language"], book["genre"], book["synopsis"]) == ("en", "memoir", "A life.")
    assert client.get_book(book["id"])["title"] == "Memórias"
    assert book["id"] in {b["id"] for b in client.list_books(limit=500)}
    saved = client.save_chapter(book["id"], "One", "It began at dawn.")
    assert (saved["revision"], saved["word_count"]) == (1, 4)
    chapters = client.list_chapters(book["id"])
    assert [(c["id"], c["current_revision"]) for c in chapters] == [(saved["chapter_id"], 1)]
    detail = client.get_chapter(saved["chapter_id"])
    assert detail["text"] == "It began at dawn."
    assert [r["number"] for r in detail["revisions"]] == [1]


def test_ready_reports_every_dependency_up(client: ApiClient) -> None:
    readiness = client.ready()
    assert readiness["ready"] is True
    assert {name: c["state"] for name, c in readiness["checks"].items()} == {
        "database": "up",
        "redis": "up",
        "worker": "up",
        "llm": "up",
        "chroma": "up",
    }


def test_suggest_streams_deltas_that_add_up_to_the_result(
    client: ApiClient, chapter: dict[str, object]
) -> None:
    job = client.suggest(str(chapter["book_id"]), str(chapter["chapter_id"]), max_tokens=48)
    assert job["status"] in ("queued", "running")
    events = list(client.job_events(job["id"]))
    assert events[0].event == "status"
    assert events[-1].event == "final"
    final = events[-1].data
    assert final["status"] == "succeeded", final
    deltas = "".join(e.data["text"] for e in events if e.event == "delta")
    assert deltas == final["result"]["text"] != ""
    assert client.get_job(job["id"])["status"] == "succeeded"
    page = client.list_jobs(book_id=str(chapter["book_id"]), kind="suggest")
    assert job["id"] in {j["id"] for j in page["items"]}
    assert client.list_artifacts(chapter_id=str(chapter["chapter_id"]))[0]["text"] == deltas


def test_bad_job_params_come_back_as_a_message(
    client: ApiClient, chapter: dict[str, object]
) -> None:
    with pytest.raises(ApiError) as caught:
        client.suggest(str(chapter["book_id"]), str(chapter["chapter_id"]), paths=99)
    assert caught.value.status == 422
    assert "paths" in caught.value.message


def test_an_api_that_is_not_there_is_status_0() -> None:
    with (
        ApiClient(f"http://127.0.0.1:{free_port()}", timeout_s=2) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.list_books()
    assert caught.value.status == NO_RESPONSE
    assert "cannot reach the API" in caught.value.message


def test_the_token_from_settings_is_sent(
    tmp_path: Path, redis_base: str, llm_url: str, logs_dir: Path
) -> None:
    secured = start_stack(
        tmp_path,
        redis_base=redis_base,
        llm_url=llm_url,
        logs_dir=logs_dir,
        extra_env={"API_TOKEN": "s3cret-token"},
        with_worker=False,
    )
    try:
        with ApiClient(secured.api_url) as anonymous, pytest.raises(ApiError) as caught:
            anonymous.list_books()
        assert caught.value.status == 401
        assert "API token" in caught.value.message
        settings = UiSettings(_env_file=None, API_URL=secured.api_url, API_TOKEN="s3cret-token")  # type: ignore[call-arg]
        with ApiClient.from_settings(settings) as api:
            assert api.create_book("Segredo", "pt-BR")["title"] == "Segredo"
    finally:
        secured.stop()


def test_error_message_formats() -> None:
    nested = {"detail": [{"loc": ["body", "params", "paths"], "msg": "too big"}]}
    assert error_message(422, nested) == "params.paths: too big"
    assert error_message(422, {"detail": [{"loc": ["body"], "msg": "Field required"}]}) == (
        "Field required"
    )
    assert (
        error_message(502, None, "<html>Bad gateway</html>") == "HTTP 502: <html>Bad gateway</html>"
    )
    assert error_message(500, None) == "HTTP 500"


def test_parse_sse_reads_fields_comments_and_multiline_data() -> None:
    lines = [
        "id: 1-0",
        "event: delta",
        'data: {"text": "Ana"}',
        "",
        ": keep-alive",
        "",
        "event: final",
        'data: {"status":',
        'data: "succeeded"}',
        "",
    ]
    assert list(parse_sse(iter(lines))) == [
        JobEvent("delta", {"text": "Ana"}, "1-0"),
        JobEvent("comment", {"text": "keep-alive"}),
        JobEvent("final", {"status": "succeeded"}),
    ]
