"""The bible's export and import through a real stack (API, worker, catalog): JSON and
Markdown downloads with safe names, a JSON export imported back into another book with a
dry-run first, lorebooks, and a bad file answered 4xx with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from services.launcher.processes import wait_until
from tests.api.test_bible import CHAPTERS, bible
from tests.conftest import Stack
from tests.job_client import finished, submit

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def api(new_stack: Callable[..., Stack]) -> Iterator[httpx.Client]:
    # Its own stack without the LLM pass after each save: the deterministic build is enough
    # here, and the counts stay still while the test compares them.
    running = new_stack("bibleport", extra_env={"BIBLE_AUTO_EXTRACT": "false"})
    try:
        with running.client() as client:
            wait_until(
                lambda: client.get("/ready").status_code == 200, timeout=60, what="ready", proc=None
            )
            yield client
    finally:
        running.stop()


def new_book(api: httpx.Client, title: str) -> tuple[str, list[str]]:
    book = api.post("/books", json={"title": title, "language": "pt-BR"}).json()["id"]
    ids = []
    for chapter_title, text in CHAPTERS:
        saved = api.post(
            "/chapter/save", json={"book_id": book, "title": chapter_title, "text": text}
        )
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["chapter_id"])
    return str(book), ids


def build(api: httpx.Client, book: str) -> None:
    """The deterministic build; a re-run retries failed chapters (two chapters' extractions
    racing over one new name can fail one of them, reported to the bible's owner)."""
    for _ in range(3):
        job = finished(api, submit(api, "build_bible", book, use_llm=False), timeout=300)
        if job["status"] == "succeeded":
            return
    raise AssertionError(job)


def entities(api: httpx.Client, book: str) -> list[dict[str, Any]]:
    items = api.get(f"{bible(book)}/entities", params={"limit": 500}).json()["items"]
    return sorted(items, key=lambda e: e["name"])


def upload(
    api: httpx.Client, book: str, data: bytes, fmt: str = "json", dry_run: bool = False
) -> httpx.Response:
    return api.post(
        f"{bible(book)}/import",
        params={"format": fmt, "dry_run": str(dry_run).lower()},
        files={"file": ("bible.json", data, "application/json")},
    )


def test_export_then_import_into_another_book(api: httpx.Client) -> None:
    source, chapters = new_book(api, "Dom Casmurro / cópia?")
    build(api, source)
    capitu = next(e for e in entities(api, source) if e["name"] == "Capitu")
    made = api.post(
        f"{bible(source)}/facts",
        json={
            "entity_id": capitu["id"],
            "attribute": "age",
            "value": "catorze anos",
            "chapter_id": chapters[0],
            "quote": "Capitu tinha catorze anos",
        },
    )
    assert made.status_code == 201, made.text

    exported = api.get(f"{bible(source)}/export", params={"format": "json"})
    assert exported.status_code == 200
    disposition = exported.headers["content-disposition"]
    assert f"-{source}.bible.json" in disposition and "/" not in disposition.split("filename=")[1]
    data = exported.json()
    assert data["format"] == "copiloto-bible"
    facts = next(e for e in data["entities"] if e["name"] == "Capitu")["facts"]
    # One Capitu: two chapters' extractions racing over the new name make no nameless twin.
    assert [e["name"] for e in data["entities"]].count("Capitu") == 1
    fact = next(f for f in facts if f["quote"] == "Capitu tinha catorze anos")
    assert fact["chapter_title"] == "A vizinha"

    markdown = api.get(f"{bible(source)}/export", params={"format": "markdown"})
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith(
        "text/markdown"
    )
    assert "### Capitu" in markdown.text and "> Capitu tinha catorze anos" in markdown.text
    tavern = api.get(f"{bible(source)}/export", params={"format": "sillytavern"}).json()
    assert any(e["comment"] == "Capitu" for e in tavern["entries"].values())

    target, _ = new_book(api, "Outro")
    preview = upload(api, target, exported.content, dry_run=True)
    assert preview.status_code == 200, preview.text
    assert preview.json()["dry_run"] is True
    assert {c["name"] for c in preview.json()["created"]} == {e["name"] for e in data["entities"]}
    assert entities(api, target) == []
    applied = upload(api, target, exported.content)
    assert applied.status_code == 200, applied.text
    assert applied.json()["conflicts"] == [] and applied.json()["skipped_facts"] == []
    copied = entities(api, target)
    assert [e["name"] for e in copied] == sorted(e["name"] for e in data["entities"])
    assert {e["origin"] for e in copied} == {"author"}
    capitu_copy = next(e for e in copied if e["name"] == "Capitu")
    detail = api.get(f"{bible(target)}/entities/{capitu_copy['id']}").json()
    # Every fact comes across: the author's and the one the patterns found, quotes intact.
    assert sorted(f["quote"] for f in detail["facts"]) == sorted(f["quote"] for f in facts)
    assert "Capitu tinha catorze anos" in [f["quote"] for f in detail["facts"]]

    # A lorebook from SillyTavern adds a note-only entity; the author-made Capitu keeps its
    # names and the different alias is reported as a conflict.
    lore = {
        "entries": {
            "0": {"uid": 0, "key": ["Capitu", "Capitolina"], "comment": "Capitu", "content": "x"},
            "1": {"uid": 1, "key": ["Sancha"], "comment": "Sancha", "content": "Amiga."},
        }
    }
    report = upload(api, target, json.dumps(lore).encode(), "sillytavern").json()
    assert [c["name"] for c in report["created"]] == ["Sancha"]
    assert [(c["name"], c["field"]) for c in report["conflicts"]] == [("Capitu", "aliases")]
    assert (
        next(e for e in entities(api, target) if e["name"] == "Capitu")["aliases"]
        == (capitu_copy["aliases"])
    )


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("json", b"\xff\xfe", "not UTF-8"),
        ("json", b"[1, 2]", "the file must be an object"),
        (
            "json",
            b'{"format": "copiloto-bible", "version": 1, "entities": [{"name": "Capitu"},'
            b' {"kind": "place"}]}',
            "entities[1].name must be a string",
        ),
        ("novelai", b'{"entries": [{"keys": ["A"]}, {"keys": "B"}]}', "entries[1].keys"),
    ],
)
def test_a_bad_file_is_a_4xx_and_changes_nothing(
    api: httpx.Client, fmt: str, data: bytes, message: str
) -> None:
    book = api.post("/books", json={"title": "Vazio", "language": "pt-BR"}).json()["id"]
    response = upload(api, book, data, fmt)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert entities(api, book) == []
    unknown = upload(api, book, b"{}", "docx")
    assert unknown.status_code == 422
