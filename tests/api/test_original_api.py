"""The original API as its clients call it: metadata from a text sent (no saved chapter), and a
chapter saved into a book that does not exist told how to make one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.job_client import finished

TEXT = (
    "Na manhã de domingo, Ana desceu ao porto de Lisboa à procura do irmão, Pedro, "
    "que não via desde o inverno. O cheiro do rio e o grito das gaivotas a acompanhavam."
)


def test_chapter_save_to_an_unknown_book_is_a_404_naming_post_books(api: httpx.Client) -> None:
    response = api.post(
        "/chapter/save", json={"book_id": "no-such-book", "title": "T", "text": "Um texto."}
    )
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert "no-such-book" in detail and "POST /books" in detail, detail


def test_metadata_extract_reads_the_text_sent(api: httpx.Client, book: dict[str, Any]) -> None:
    body = {"book_id": book["id"], "text": TEXT, "title": "O porto", "max_tokens": 700}
    response = api.post("/metadata/extract", json=body)
    assert response.status_code == 202, response.text
    job = finished(api, response.json()["job_id"], timeout=300)
    assert job["status"] == "succeeded" and job["chapter_id"] is None, job
    result = job["result"]
    assert set(result["metadata"]) >= {"genre", "tone", "pov", "characters", "places"}
    assert result["chapter_title"] == "O porto" and result["chapter_revision"] is None
    assert result["stored"] is False and "stored on no chapter" in result["notes"][0]
    # Nothing was saved as a chapter; the extraction is kept as the job's artifact.
    assert api.get(f"/books/{book['id']}/chapters").json() == []
    artifact = api.get(f"/artifacts/{result['artifact_id']}").json()
    assert artifact["kind"] == "metadata" and artifact["chapter_id"] is None
    assert artifact["data"] == result["metadata"]


def test_metadata_extract_needs_a_chapter_or_a_text(
    api: httpx.Client, book: dict[str, Any]
) -> None:
    neither = api.post("/metadata/extract", json={"book_id": book["id"]})
    assert neither.status_code == 422
    assert "chapter_id" in neither.text and "text" in neither.text, neither.text
    blank = api.post("/metadata/extract", json={"book_id": book["id"], "text": "   "})
    assert blank.status_code == 422 and "text" in blank.text, blank.text
    title_alone = api.post("/metadata/extract", json={"book_id": book["id"], "title": "T"})
    assert title_alone.status_code == 422, title_alone.text
    # POST /jobs takes the text as a param, in place of the chapter.
    as_job = api.post(
        "/jobs",
        json={"kind": "extract_metadata", "book_id": book["id"], "params": {"text": TEXT}},
    )
    assert as_job.status_code == 202, as_job.text
    api.post(f"/jobs/{as_job.json()['id']}/cancel")  # its run is the test above; spare the CPU
    missing = api.post("/jobs", json={"kind": "extract_metadata", "book_id": book["id"]})
    assert missing.status_code == 422 and "params.text" in missing.json()["detail"]
