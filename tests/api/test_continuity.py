"""The continuity audit through the real stack: a 4-chapter book with one planted contradiction
(eye colour) and one explained change (dyed hair); the audit finds the first and not the
second, cites both passages verbatim, keeps the author's mark over a re-run, writes the report,
and answers bad input with 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.job_client import submit, succeeded

# The audit shares the LLM queue with the extractions that follow each save.
pytestmark = pytest.mark.timeout(1200)
WAIT_S = 900

CHAPTERS = [
    (
        "The Lamp",
        "Mara Quill climbed the lighthouse stairs. She was seventeen years old, with green eyes "
        "and a quiet voice.\n\nElsie Dunmore waited below. Elsie had black hair pinned up tight.",
    ),
    ("The Storm", "The storm came in from the north. Mara Quill trimmed the wick all night."),
    (
        "The Visit",
        'Elsie came up the path. Her hair was a bright corn yellow.\n\n"I dyed it," Elsie '
        'said. "Lemon juice and an afternoon in the sun."',
    ),
    (
        "The Mirror",
        "The gale had passed. The village slept. Mara looked into the mirror, and her brown "
        "eyes looked back at her.",
    ),
]


def base(book: str) -> str:
    return f"/books/{book}/continuity"


def audit(api: httpx.Client, book: str, **params: Any) -> dict[str, Any]:
    job = succeeded(api, submit(api, "continuity_check", book, **params), timeout=WAIT_S)
    return dict(job["result"])


@pytest.fixture()
def saved_book(api: httpx.Client) -> tuple[str, list[str]]:
    book = api.post("/books", json={"title": "Carrow", "language": "en"}).json()["id"]
    ids = []
    for title, text in CHAPTERS:
        saved = api.post("/chapter/save", json={"book_id": book, "title": title, "text": text})
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["chapter_id"])
    return book, ids


def test_the_audit_finds_the_planted_contradiction_not_the_explained_change(
    api: httpx.Client, saved_book: tuple[str, list[str]]
) -> None:
    book, ids = saved_book
    result = audit(api, book)
    assert result["chapters"] == 4 and result["candidates"] >= 1
    findings = result["findings"]
    assert [(f["entity"], f["attribute"], f["type"]) for f in findings] == [
        ("Mara Quill", "eye colour", "fact")
    ], findings
    finding = findings[0]
    assert finding["status"] == "open" and finding["severity"] in ("medium", "high")
    assert "green" in finding["explanation"] and "brown" in finding["explanation"]
    cited = [(c["chapter_id"], c["chapter_position"]) for c in finding["citations"]]
    assert cited == [(ids[0], 1), (ids[3], 4)]
    for cite in finding["citations"]:
        text = api.get(f"/chapters/{cite['chapter_id']}/revisions/{cite['revision']}").json()
        assert text["text"][cite["start"] : cite["end"]] == cite["quote"]
    listed = api.get(f"{base(book)}/findings").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == finding["id"]

    # The author's mark sticks: a forced re-run finds it again, keeps it out of the result.
    marked = api.patch(f"{base(book)}/findings/{finding['id']}", json={"status": "intentional"})
    assert marked.status_code == 200 and marked.json()["status"] == "intentional"
    again = audit(api, book, force=True)
    assert again["findings"] == []
    kept = api.get(f"{base(book)}/findings", params={"status": "intentional"}).json()
    assert [f["id"] for f in kept["items"]] == [finding["id"]]
    assert api.get(f"{base(book)}/findings", params={"status": "open"}).json()["total"] == 0
    # Nothing changed since: an incremental run has no chapter in scope.
    assert audit(api, book)["chapters"] == 0

    report = api.get(f"{base(book)}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/markdown")
    assert report.text.startswith("# Continuity report: Carrow")
    assert "green eyes" in report.text and "brown" in report.text


def test_bad_input_gets_a_4xx_that_says_what_to_fix(
    api: httpx.Client, saved_book: tuple[str, list[str]]
) -> None:
    book, _ = saved_book
    missing = api.patch(f"{base(book)}/findings/nope", json={"status": "fix"})
    assert missing.status_code == 404 and "finding" in missing.text
    assert api.get(f"{base('nobook')}/findings").status_code == 404
    wrong = api.patch(f"{base(book)}/findings/nope", json={"status": "maybe"})
    assert wrong.status_code == 422
    assert api.get(f"{base(book)}/findings", params={"type": "nonsense"}).status_code == 422
    bad = api.post(
        "/jobs",
        json={"kind": "continuity_check", "book_id": book, "params": {"chapter_ids": "x"}},
    )
    assert bad.status_code == 422
