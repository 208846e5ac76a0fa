"""Book archives, restore, delete with a trash and purge through the real API, workers, Chroma
server and LLM: what comes back is the same book, and memory answers the same question with
the same citation once the reindex it queued has run."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from services.core.db import make_engine, make_session_factory
from services.core.memory.embeddings import make_embedder
from services.core.memory.retrieval import search_memory
from services.core.memory.store import MemoryStore
from services.launcher.stack import Stack
from tests.core.archives.bad_archives import BAD_ARCHIVES
from tests.core.archives.installs import Install, make_book
from tests.job_client import succeeded as succeeded_in
from tests.memory_support import collection_name

# Saves queue an LLM summary with their indexing: on a busy 2-core machine that takes minutes.
JOB_TIMEOUT_S = 420


def succeeded(api: httpx.Client, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict[str, Any]:
    return succeeded_in(api, job_id, timeout)


QUESTION = "De que cor eram os olhos de Capitu?"


def new_book(api: httpx.Client, title: str) -> str:
    response = api.post("/books", json={"title": title, "language": "pt-BR", "genre": "romance"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def save(api: httpx.Client, book_id: str, title: str, text: str) -> dict[str, Any]:
    response = api.post("/chapter/save", json={"book_id": book_id, "title": title, "text": text})
    assert response.status_code == 201, response.text
    return dict(response.json())


def snapshot(api: httpx.Client, book_id: str) -> dict[str, Any]:
    """Everything the API says about the book: the book, every chapter with every revision's
    text, and its artifacts."""
    book = api.get(f"/books/{book_id}")
    assert book.status_code == 200, book.text
    chapters = []
    for chapter in api.get(f"/books/{book_id}/chapters").json():
        detail = api.get(f"/chapters/{chapter['id']}").json()
        detail["revisions"] = [
            api.get(f"/chapters/{chapter['id']}/revisions/{r['number']}").json()
            for r in detail["revisions"]
        ]
        chapters.append(detail)
    artifacts = api.get("/artifacts", params={"book_id": book_id}).json()
    return {"book": book.json(), "chapters": chapters, "artifacts": artifacts}


def files_of(data_dir: Path, book_id: str, artifact_files: list[str]) -> dict[str, str]:
    folder = data_dir / "chapters"
    names = [p.name for p in folder.glob(f"{book_id}__*.md")] + artifact_files
    return {
        n: hashlib.sha256((folder / n).read_bytes()).hexdigest()
        for n in sorted(names)
        if (folder / n).exists()
    }


def all_files(data_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not p.name.startswith("copiloto.db")
    }


def first_citation(stack: Stack, book_id: str) -> str:
    """The chapter memory cites first for the question: the retrieval `ask` uses, run here on
    the stack's Chroma server with the same embedder (the LLM's answer is not the point)."""
    memory = MemoryStore.from_settings(stack.settings, make_embedder(stack.settings))
    passages = search_memory(memory, book_id, QUESTION, 3)
    assert passages
    return passages[0].chapter_id


def catalog_of(stack: Stack) -> Install:
    """The stack's own catalog and data folder, to build a book with history directly (saves
    through the API queue LLM summaries, minutes each on a busy 2-core machine)."""
    return Install(stack.settings, make_session_factory(make_engine(stack.settings.database_url)))


def memory_count(api: httpx.Client, stack: Stack, book_id: str) -> int:
    name = collection_name(api, book_id)
    listed = {c["name"]: c["count"] for c in api.get("/chroma/collections").json()}
    return int(listed.get(name, 0))


def test_archive_purge_restore_is_the_same_book_with_the_same_memory(
    api: httpx.Client, stack: Stack
) -> None:
    book_id = make_book(catalog_of(stack), "Dom Casmurro (arquivo)")
    indexed = api.post(f"/books/{book_id}/reindex", json={"force": False})
    assert indexed.status_code == 202, indexed.text
    succeeded(api, indexed.json()["id"])
    cited = first_citation(stack, book_id)
    before = snapshot(api, book_id)
    assert [len(c["revisions"]) for c in before["chapters"]] == [3, 1]
    assert len(before["artifacts"]) == 2 and all(c["in_memory"] for c in before["chapters"])
    artifact_files = [a["file_name"] for a in before["artifacts"] if a["file_name"]]
    files = files_of(stack.data_dir, book_id, artifact_files)
    assert len(files) == 3 and memory_count(api, stack, book_id) > 0

    archive = api.get(f"/books/{book_id}/archive")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert ".copiloto.zip" in archive.headers["content-disposition"]

    # Delete (confirmed by the exact title) → trash → purge: nothing of the book is left.
    wrong = api.delete(f"/books/{book_id}", params={"confirm": "dom casmurro"})
    assert wrong.status_code == 422 and "exact title" in wrong.json()["detail"]
    deleted = api.delete(f"/books/{book_id}", params={"confirm": "Dom Casmurro (arquivo)"})
    assert deleted.status_code == 200, deleted.text
    assert api.get(f"/books/{book_id}").status_code == 404
    assert api.get(f"/chapters/{before['chapters'][0]['id']}").status_code == 404
    assert book_id not in [b["id"] for b in api.get("/books").json()]
    assert book_id in [t["book"]["id"] for t in api.get("/trash").json()]
    purged = api.delete(f"/trash/{book_id}")
    assert purged.status_code == 200 and purged.json()["memory_deleted"] > 0, purged.text
    assert book_id not in [t["book"]["id"] for t in api.get("/trash").json()]
    assert files_of(stack.data_dir, book_id, artifact_files) == {}
    assert memory_count(api, stack, book_id) == 0
    assert api.get("/artifacts", params={"book_id": book_id}).json() == []
    assert api.get("/jobs", params={"book_id": book_id}).json()["total"] == 0
    assert api.delete(f"/trash/{book_id}").status_code == 404

    restored = api.post(
        "/books/restore", files={"file": ("book.copiloto.zip", archive.content, "application/zip")}
    )
    assert restored.status_code == 201, restored.text
    body = restored.json()
    assert body["book_id"] == book_id and body["revisions"] == 4 and body["artifacts"] == 2
    succeeded(api, body["reindex_job_id"])
    assert snapshot(api, book_id) == before
    assert files_of(stack.data_dir, book_id, artifact_files) == files
    assert first_citation(stack, book_id) == cited

    # The same archive again: asked what to do, never merged.
    again = api.post("/books/restore", files={"file": ("b.zip", archive.content)})
    assert again.status_code == 409
    assert "mode=as_new" in again.json()["detail"] and "mode=replace" in again.json()["detail"]
    assert first_citation(stack, book_id) == cited
    copy = api.post("/books/restore?mode=as_new", files={"file": ("b.zip", archive.content)})
    assert copy.status_code == 201 and copy.json()["book_id"] != book_id, copy.text
    replaced = api.post(
        "/books/restore",
        params={"mode": "replace", "confirm": "Dom Casmurro (arquivo)"},
        files={"file": ("b.zip", archive.content)},
    )
    assert replaced.status_code == 201 and replaced.json()["replaced"] is True, replaced.text
    succeeded(api, replaced.json()["reindex_job_id"])
    assert snapshot(api, book_id) == before


def test_delete_then_restore_from_the_trash_is_identical(api: httpx.Client, stack: Stack) -> None:
    book_id = make_book(catalog_of(stack), "Lixeira")
    before = snapshot(api, book_id)
    files = files_of(stack.data_dir, book_id, [])
    assert api.delete(f"/books/{book_id}", params={"confirm": "Lixeira"}).status_code == 200
    item = next(t for t in api.get("/trash").json() if t["book"]["id"] == book_id)
    assert item["deleted_at"] < item["purge_after"]
    # Hidden everywhere a live book is used.
    assert api.post("/chapter/save", json={
        "book_id": book_id, "title": "Dois", "text": "Mais."}).status_code == 404  # fmt: skip
    assert api.get(f"/books/{book_id}/archive").status_code == 404
    back = api.post(f"/trash/{book_id}/restore")
    assert back.status_code == 200, back.text
    assert snapshot(api, book_id) == before
    assert files_of(stack.data_dir, book_id, []) == files
    assert api.post(f"/trash/{book_id}/restore").status_code == 404


def test_bad_archives_get_a_4xx_and_change_nothing(api: httpx.Client, stack: Stack) -> None:
    book_id = make_book(catalog_of(stack), "Arquivo ruim")
    good = api.get(f"/books/{book_id}/archive").content
    books, trash = api.get("/books").json(), api.get("/trash").json()
    files = all_files(stack.data_dir)
    # Those that depend on limits smaller than the defaults the stack runs with are checked in
    # tests/core/archives; the ratio and traversal ones do not.
    sized = {"huge member", "too much inflated", "too many members", "too big"}
    for bad in BAD_ARCHIVES:
        if bad.name in sized or bad.name == "text over MAX_TEXT_CHARS":
            continue
        response = api.post(
            "/books/restore?mode=as_new", files={"file": ("bad.zip", bad.make(good))}
        )
        assert 400 <= response.status_code < 500, (bad.name, response.text)
        assert response.status_code == bad.status, (bad.name, response.text)
        assert bad.says in response.json()["detail"], (bad.name, response.text)
    assert api.get("/books").json() == books and api.get("/trash").json() == trash
    assert all_files(stack.data_dir) == files
