"""Book search and hybrid memory through the real stack (API, Celery workers, Chroma server):
the lexical and vector indexes hold the same passages after every operation.

Searching and indexing never call the LLM, so this module's stack points at none (chapter
summaries are skipped): it runs without the llama.cpp server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.memory.lexical import LexicalIndex
from services.launcher.stack import free_port
from tests.api.test_memory_api import new_book, save
from tests.conftest import Stack, start_stack
from tests.job_client import succeeded as finished
from tests.memory_support import collection_name

NO_LLM = {"LLM_MAX_RETRIES": "0", "LLM_CONNECT_TIMEOUT": "1"}
# A dispatch lost on a busy machine is sent again in seconds, not half a minute.
QUICK_RESEND = {"JOB_RECOVERY_SCAN": "1", "JOB_QUEUED_RESEND_AFTER": "3"}


def stack_without_llm(
    tmp: Path, redis_base: str, logs_dir: Path, chroma: tuple[str, int], **env: str
) -> Stack:
    return start_stack(
        tmp,
        redis_base=redis_base,
        llm_url=f"http://127.0.0.1:{free_port()}/v1",
        logs_dir=logs_dir,
        chroma=chroma,
        extra_env={**NO_LLM, **QUICK_RESEND, **env},
    )


@pytest.fixture(scope="module")
def search_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    logs_dir: Path,
    chroma_server: tuple[str, int],
) -> Iterator[Stack]:
    running = stack_without_llm(
        tmp_path_factory.mktemp("search"), redis_base, logs_dir, chroma_server
    )
    yield running
    running.stop()


@pytest.fixture()
def api(search_stack: Stack) -> Iterator[httpx.Client]:
    with search_stack.client() as client:
        yield client


@pytest.fixture()
def stack(search_stack: Stack) -> Stack:
    return search_stack


def vector_ids(api: httpx.Client, name: str) -> set[str]:
    ids: set[str] = set()
    while True:
        page = api.get(f"/chroma/collection/{name}", params={"limit": 200, "offset": len(ids)})
        items = page.json().get("items", []) if page.status_code == 200 else []
        ids |= {d["id"] for d in items}
        if len(items) < 200:
            return ids


def assert_indexes_agree(api: httpx.Client, stack: Stack, book: str) -> set[str]:
    """The lexical index files the API and workers share, against what Chroma holds."""
    name = collection_name(api, book)
    vectors = vector_ids(api, name)
    lexical = LexicalIndex(stack.data_dir / "lexical").ids(name)
    assert lexical == vectors, (sorted(lexical ^ vectors), name)
    return vectors


def search(api: httpx.Client, book: str, q: str, k: int = 5) -> dict[str, Any]:
    response = api.get(f"/books/{book}/search", params={"q": q, "k": k})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_indexes_agree_after_save_update_restore_delete_clear_and_reindex(
    api: httpx.Client, stack: Stack
) -> None:
    book = new_book(api, "Consistência")
    first = save(api, book, "O cais", "O barqueiro Tobias amarrou o barco no cais velho.")
    second = save(api, book, "A feira", "Na feira, Dona Rosa vendia queijos e goiabada.")
    for saved in (first, second):
        finished(api, saved["index_job_id"])
    ids = assert_indexes_agree(api, stack, book)
    assert {i.split(":")[1] for i in ids} == {first["chapter_id"], second["chapter_id"]}

    updated = api.put(
        "/chapter/update",
        json={
            "book_id": book,
            "chapter_id": first["chapter_id"],
            "text": "Tobias consertou a rede de pesca ao entardecer.",
        },
    )
    assert updated.status_code == 200, updated.text
    finished(api, updated.json()["index_job_id"])
    assert_indexes_agree(api, stack, book)
    assert search(api, book, "rede de pesca")["results"][0]["chapter_id"] == first["chapter_id"]

    restored = api.post(f"/chapters/{first['chapter_id']}/restore", json={"revision": 1})
    assert restored.status_code in (200, 201), restored.text
    if restored.json().get("index_job_id"):
        finished(api, restored.json()["index_job_id"])
    assert_indexes_agree(api, stack, book)
    hits = search(api, book, "barqueiro amarrou o barco")["results"]
    assert hits[0]["chapter_id"] == first["chapter_id"] and "cais" in hits[0]["text"]

    assert api.delete(f"/chroma/book/{book}", params={"confirm": book}).status_code == 200
    assert assert_indexes_agree(api, stack, book) == set()
    after_delete = search(api, book, "queijos")
    assert after_delete["indexed"] is False and after_delete["results"] == []

    queued = api.post("/chroma/vectorize-existing", json={"book_id": book}).json()
    for job in queued["jobs"]:
        finished(api, job["id"])
    assert len(assert_indexes_agree(api, stack, book)) >= 2


def test_book_search_ranks_highlights_and_says_how_it_found(api: httpx.Client) -> None:
    book = new_book(api, "Busca")
    sea = save(api, book, "O mar", "Capitu tinha olhos de ressaca, como o mar em dia de vento.")
    school = save(api, book, "O seminário", "No seminário, os padres ensinavam latim e orações.")
    for saved in (sea, school):
        finished(api, saved["index_job_id"])
    body = search(api, book, "OLHOS de Capitú")
    assert body["indexed"] is True and body["query"] == "OLHOS de Capitú"
    top = body["results"][0]
    assert top["chapter_id"] == sea["chapter_id"] and top["chapter_title"] == "O mar"
    assert top["chapter_position"] == 1 and top["passage_index"] == 0
    assert top["found_by"] == "both"  # accents and case folded for the words
    marked = {top["text"][a:b] for a, b in top["highlights"]}
    assert marked == {"olhos", "Capitu"}
    meaning = search(api, book, "escola religiosa onde se estuda uma língua antiga")["results"]
    assert meaning[0]["chapter_id"] == school["chapter_id"]
    assert meaning[0]["found_by"] in {"semantic", "both"}

    empty = api.get(f"/books/{book}/search", params={"q": "   "})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    long = api.get(f"/books/{book}/search", params={"q": "palavra " * 200})
    assert long.status_code == 422 and "at most" in long.json()["detail"]
    assert api.get(f"/books/{book}/search", params={"q": "mar", "k": 0}).status_code == 422
    assert api.get("/books/nobook/search", params={"q": "mar"}).status_code == 404

    bare = new_book(api, "Sem memória")
    nothing = search(api, bare, "mar")
    assert nothing == {**nothing, "indexed": False, "results": []}
    schema = api.get("/openapi.json").json()
    assert "BookSearchOut" in schema["components"]["schemas"]


def test_memory_unavailable_is_503_not_an_empty_result(
    tmp_path: Path, redis_base: str, logs_dir: Path
) -> None:
    stack = stack_without_llm(tmp_path, redis_base, logs_dir, ("127.0.0.1", free_port()))
    try:
        with stack.client() as api:
            book = new_book(api, "Sem Chroma")
            response = api.get(f"/books/{book}/search", params={"q": "mar"})
            assert response.status_code == 503, response.text
            assert "unavailable" in response.json()["detail"]
    finally:
        stack.stop()
