"""Chapter memory through the API: indexing on save, cited answers, stale chunks, the explorer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Stack
from tests.job_client import succeeded as finished
from tests.memory_support import collection_name


def save(api: httpx.Client, book_id: str, title: str, text: str) -> dict[str, Any]:
    response = api.post("/chapter/save", json={"book_id": book_id, "title": title, "text": text})
    assert response.status_code == 201, response.text
    saved: dict[str, Any] = response.json()
    assert saved["index_job_id"], "saving a chapter queues its indexing"
    return saved


def new_book(api: httpx.Client, title: str, language: str = "pt-BR") -> str:
    return str(api.post("/books", json={"title": title, "language": language}).json()["id"])


def chapter_docs(api: httpx.Client, stack: Stack, book_id: str, chapter_id: str) -> list[str]:
    name = collection_name(api, book_id)
    page = api.get(f"/chroma/collection/{name}", params={"limit": 200}).json()
    return sorted(
        d["id"] for d in page.get("items", []) if d["metadata"]["chapter_id"] == chapter_id
    )


def test_ask_cites_the_chapter_that_states_the_fact(api: httpx.Client) -> None:
    book = new_book(api, "A Ilha")
    other = new_book(api, "Outro Livro")
    first = save(api, book, "O farol", "Marina tinha olhos verdes, verdes como o mar da ilha.")
    second = save(api, book, "A tempestade", "A tempestade derrubou o velho cais de madeira.")
    third = save(api, book, "O mercado", "No mercado, vendiam peixe, farinha e rendas de bilro.")
    decoy = save(api, other, "Engano", "Marina tinha olhos castanhos e cabelo curto.")
    for saved in (first, second, third, decoy):
        finished(api, saved["index_job_id"])
    job = api.post(
        "/ask?wait=120",
        json={"book_id": book, "question": "De que cor são os olhos de Marina?", "top_k": 3},
    )
    assert job.status_code == 200, job.text
    result = job.json()["result"]
    assert result["answer"].strip()
    cited = [c["chapter_id"] for c in result["citations"]]
    assert cited[0] == first["chapter_id"], result["citations"]
    assert decoy["chapter_id"] not in cited
    assert {c["chapter_id"] for c in result["citations"]} <= {
        first["chapter_id"],
        second["chapter_id"],
        third["chapter_id"],
    }
    top = result["citations"][0]
    assert top["title"] == "O farol" and top["position"] == 1 and "verdes" in top["passage"]
    assert result["receipt"]["passages"] and result["receipt"]["completion_tokens"] > 0
    without = api.post(
        "/ask?wait=120", json={"book_id": book, "question": "Quem é Marina?", "use_memory": False}
    ).json()["result"]
    assert without["citations"] == [] and without["receipt"]["passages"] == []


def test_shortened_chapter_loses_stale_chunks_and_unchanged_text_is_skipped(
    api: httpx.Client, stack: Stack
) -> None:
    book = new_book(api, "Longo", "en")
    # Words of one word piece each: the windows are bound by words (160), not by tokens.
    vocabulary = ["the", "sea", "was", "calm", "and", "blue", "that", "night"]
    long_text = " ".join(vocabulary[i % 8] for i in range(399))  # 400 words with the title
    saved = save(api, book, "Long", long_text)
    indexed = finished(api, saved["index_job_id"])["result"]
    assert (indexed["skipped"], indexed["chunks"]) == (False, 3)
    chunk_ids = [d for d in chapter_docs(api, stack, book, saved["chapter_id"]) if ":chunk:" in d]
    assert len(chunk_ids) == 3

    half = " ".join(vocabulary[i % 8] for i in range(150))
    updated = api.put(
        "/chapter/update", json={"book_id": book, "chapter_id": saved["chapter_id"], "text": half}
    ).json()
    reindexed = finished(api, updated["index_job_id"])["result"]
    assert (reindexed["chunks"], reindexed["deleted"]) == (1, 2)
    docs = chapter_docs(api, stack, book, saved["chapter_id"])
    assert [d for d in docs if ":chunk:" in d] == [f"{book}:{saved['chapter_id']}:chunk:0"]

    again = api.post(
        "/jobs",
        json={"kind": "index_chapter", "book_id": book, "chapter_id": saved["chapter_id"]},
    ).json()
    assert finished(api, again["id"])["result"]["skipped"] is True
    assert chapter_docs(api, stack, book, saved["chapter_id"]) == docs


def test_memory_explorer_and_guarded_deletes(api: httpx.Client, stack: Stack) -> None:
    book = new_book(api, "Explorar", "en")
    saved = save(api, book, "One", "A short chapter about a lighthouse keeper.")
    finished(api, saved["index_job_id"])
    status = api.get("/chroma/status").json()
    assert status["mode"] == "server" and status["ok"] and status["documents"] >= 1
    assert status["embedding_model"] == "multilingual-e5-small-q4"
    names = [c["name"] for c in api.get("/chroma/collections").json()]
    assert f"{stack.env['MEMORY_COLLECTION']}-{book}.e5s" in names
    assert all(n.startswith(stack.env["MEMORY_COLLECTION"]) for n in names)
    assert api.get("/chroma/collection/not-ours").status_code == 404
    assert api.get(f"/chroma/collection/{names[0]}", params={"limit": 0}).status_code == 422

    refused = api.delete(f"/chroma/book/{book}")
    assert refused.status_code == 422
    wrong = api.delete(f"/chroma/book/{book}", params={"confirm": "yes"})
    assert wrong.status_code == 422 and "confirm" in wrong.json()["detail"]
    assert chapter_docs(api, stack, book, saved["chapter_id"]), "nothing deleted by accident"
    deleted = api.delete(f"/chroma/book/{book}", params={"confirm": book})
    assert deleted.status_code == 200 and deleted.json()["deleted"] >= 1
    assert chapter_docs(api, stack, book, saved["chapter_id"]) == []
    assert api.delete("/chroma/clear", params={"confirm": "yes"}).status_code == 422

    # One reindex of the book (coalesced like POST /books/{id}/reindex), not a job per chapter.
    queued = api.post("/chroma/vectorize-existing", json={"book_id": book})
    assert queued.status_code == 202 and queued.json()["total"] == 1
    job = finished(api, queued.json()["jobs"][0]["id"])
    assert job["kind"] == "reindex_book" and job["status"] == "succeeded", job
    assert (job["result"]["indexed"], job["result"]["skipped"]) == (1, 0), (
        "a deleted memory is rebuilt, not skipped"
    )
    assert chapter_docs(api, stack, book, saved["chapter_id"])
    metadata = api.get(f"/metadata/book/{book}").json()
    assert metadata["chapters"][0]["indexed"] is True


def test_original_writing_endpoints(api: httpx.Client, chapter: dict[str, Any]) -> None:
    body = {"book_id": chapter["book_id"], "chapter_id": chapter["chapter_id"], "max_tokens": 24}
    queued = api.post("/suggest", json=body)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    inline = api.post("/suggest", params={"wait": 90}, json=body)
    assert inline.status_code == 200 and inline.json()["status"] == "succeeded"
    assert inline.json()["result"]["text"].strip()
    assert api.post("/suggest", json={**body, "chapter_id": "../x"}).status_code == 422
    assert api.post("/suggest", json={**body, "chapter_id": "nochapter"}).status_code == 404
    assert api.post("/suggest", params={"wait": 999}, json=body).status_code == 422
    assert api.post("/ask", json={"book_id": chapter["book_id"]}).status_code == 422
    assert api.get("/metadata/book/nobook").status_code == 404


def test_vectorize_existing_imports_chapters_kept_only_on_disk(
    api: httpx.Client, stack: Stack
) -> None:
    folder = stack.data_dir / "chapters"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "livrovelho__cap-um.md").write_text(
        "# O naufrágio\n\nO navio afundou perto da ilha de Marajó.\n", encoding="utf-8"
    )
    (folder / "livrovelho__vazio.md").write_text("# Nada\n\n", encoding="utf-8")
    (folder / "sugest_o-naufragio__abc123.md").write_text("uma sugestão", encoding="utf-8")
    queued = api.post("/chroma/vectorize-existing", json={"book_id": "livrovelho"})
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["imported"] == [{"book_id": "livrovelho", "chapter_id": "cap-um"}]
    assert body["total"] == 1
    finished(api, body["jobs"][0]["id"])
    chapter = api.get("/chapters/cap-um").json()
    assert chapter["title"] == "O naufrágio" and chapter["book_id"] == "livrovelho"
    assert chapter["revisions"][0]["source"] == "import"
    assert "Marajó" in chapter["text"]
    assert chapter_docs(api, stack, "livrovelho", "cap-um")
    again = api.post("/chroma/vectorize-existing", json={"book_id": "livrovelho"}).json()
    assert again["imported"] == [], "a second run imports nothing twice"
