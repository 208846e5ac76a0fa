"""`critique` and `expand` through the real API, Celery workers, Chroma and the small LLM.

The small model's prose is not judged: the tests check what the plumbing guarantees (which
chapters are cited, what is stored, streamed and queued), not the quality of the writing.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Stack
from tests.job_client import finished, follow, submit, succeeded


def new_book(api: httpx.Client, title: str, language: str = "pt-BR") -> str:
    response = api.post("/books", json={"title": title, "language": language})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def save_indexed(api: httpx.Client, book_id: str, title: str, text: str) -> str:
    response = api.post("/chapter/save", json={"book_id": book_id, "title": title, "text": text})
    assert response.status_code == 201, response.text
    saved: dict[str, Any] = response.json()
    assert saved["index_job_id"], "saving a chapter queues its indexing"
    succeeded(api, saved["index_job_id"])
    return str(saved["chapter_id"])


def test_critique_cites_only_earlier_chapters(api: httpx.Client, stack: Stack) -> None:
    book = new_book(api, "A Ilha")
    first = save_indexed(
        api, book, "O farol", "Marina tinha olhos verdes e morava no farol com o pai, Joaquim."
    )
    second = save_indexed(
        api, book, "A tempestade", "A tempestade derrubou o cais; Joaquim morreu no naufrágio."
    )
    # Indexed too: its own passages are the closest to its text, and must not be cited.
    third = save_indexed(
        api,
        book,
        "O retorno",
        "Marina, de olhos castanhos, encontrou o pai Joaquim vivo, consertando o cais intacto.",
    )
    job_id = submit(api, "critique", book, third, max_tokens=96, top_k=4)
    events = follow(api, job_id)
    assert events[-1].event == "final" and events[-1].data["status"] == "succeeded", events[-1]
    assert any(e.event == "delta" for e in events), "the critique streams as it is written"
    progress = [e.data["progress"] for e in events if e.event == "progress"]
    assert progress == sorted(progress)

    result = succeeded(api, job_id)["result"]
    assert result["text"].strip() and result["finish_reason"] in ("stop", "length", "stopped")
    if result["finish_reason"] == "stopped":  # only the loop guard closes a stream early
        assert result["receipt"]["loop_guard"]["truncated_at_chars"] is not None
    assert result["chapter_title"] == "O retorno" and result["chapter_revision"] == 1
    assert result["language"] == "pt-BR" and result["notes"] == []
    citations = result["citations"]
    assert citations, result
    assert {c["chapter_id"] for c in citations} <= {first, second}
    assert all(c["position"] < 3 for c in citations)
    assert result["receipt"]["passages"] == [c["doc_id"] for c in citations]
    assert result["receipt"]["completion_tokens"] > 0

    assert result["file"].startswith("critica_o-retorno__")
    assert (stack.data_dir / "chapters" / result["file"]).read_text().strip()
    listed = api.get("/artifacts", params={"chapter_id": third}).json()
    assert [(a["id"], a["kind"]) for a in listed] == [(result["artifact_id"], "critique")]


def test_critique_shim_answers_inline(api: httpx.Client, chapter: dict[str, Any]) -> None:
    body = {"book_id": chapter["book_id"], "chapter_id": chapter["chapter_id"], "max_tokens": 48}
    response = api.post("/critique", params={"wait": 120}, json=body)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "succeeded" and job["kind"] == "critique"
    result = job["result"]
    assert result["text"].strip()
    # The book's first chapter: nothing earlier to compare with, and the critique says so.
    assert result["citations"] == [] and "first chapter" in result["notes"][0]


def test_expand_saves_the_scene_as_a_new_chapter(
    api: httpx.Client, stack: Stack, chapter: dict[str, Any]
) -> None:
    book_id = str(chapter["book_id"])
    idea = {
        "title": "O porto de Lisboa",
        "logline": "Ana desembarca em Lisboa e procura o irmão.",
        "characters": ["Ana", "Pedro"],
    }
    job_id = submit(api, "expand", book_id, idea=idea, save_as_chapter=True, max_tokens=64)
    job = succeeded(api, job_id)
    result = job["result"]
    assert result["text"].strip() and result["title"] == "O porto de Lisboa"
    new_id = result["saved_chapter_id"]
    assert new_id == job_id.replace("-", "")[:12], "derived from the job: a rerun finds it"
    assert result["index_job_id"] and result["saved_chapter_position"] == 2

    chapters = api.get(f"/books/{book_id}/chapters").json()
    assert [(c["id"], c["position"]) for c in chapters] == [
        (chapter["chapter_id"], 1),
        (new_id, 2),
    ]
    saved = api.get(f"/chapters/{new_id}").json()
    assert saved["title"] == "O porto de Lisboa" and saved["text"] == result["text"].strip()
    assert [(r["number"], r["source"]) for r in saved["revisions"]] == [(1, "ai")]
    assert (stack.data_dir / "chapters" / f"{book_id}__{new_id}.md").exists()
    artifact = api.get(f"/artifacts/{result['artifact_id']}").json()
    assert artifact["kind"] == "scene" and artifact["text"] == result["text"]
    assert (stack.data_dir / "chapters" / result["file"]).exists()
    index_job = api.get(f"/jobs/{result['index_job_id']}").json()
    assert (index_job["kind"], index_job["chapter_id"]) == ("index_chapter", new_id)


def test_expand_params_are_checked(api: httpx.Client, chapter: dict[str, Any]) -> None:
    book_id = str(chapter["book_id"])
    for params in ({}, {"instructions": "  "}, {"save_as_chapter": True}):
        response = api.post("/jobs", json={"kind": "expand", "book_id": book_id, "params": params})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert all(name in detail for name in ("idea", "instructions", "from_chapter")), detail
    shim = api.post("/expand", json={"book_id": book_id})
    assert shim.status_code == 422 and "from_chapter" in shim.text, shim.text
    bad_idea = api.post(
        "/jobs",
        json={"kind": "expand", "book_id": book_id, "params": {"idea": {"title": "T"}}},
    )
    assert bad_idea.status_code == 422 and "idea.logline" in bad_idea.json()["detail"]
    # A starting chapter is a property of the job, not of its params: checked when it runs.
    job_id = submit(api, "expand", book_id, from_chapter=True, max_tokens=16)
    job = finished(api, job_id)
    assert job["status"] == "failed" and "chapter_id" in job["error"], job


def test_expand_saved_chapter_gets_indexed(api: httpx.Client, chapter: dict[str, Any]) -> None:
    """Needs the runner to send `JobOutput.follow_ups` after the job's commit."""
    job_id = submit(
        api,
        "expand",
        str(chapter["book_id"]),
        str(chapter["chapter_id"]),
        from_chapter=True,
        instructions="Ana chega a Lisboa.",
        save_as_chapter=True,
        chapter_title="Lisboa",
        max_tokens=48,
    )
    result = succeeded(api, job_id)["result"]
    assert result["title"] == "Lisboa"
    # The `index` worker runs one job at a time, each with an LLM summary: allow for a backlog.
    indexed = succeeded(api, result["index_job_id"], timeout=240)
    assert indexed["chapter_id"] == result["saved_chapter_id"]
    assert indexed["result"]["chunks"] >= 1
