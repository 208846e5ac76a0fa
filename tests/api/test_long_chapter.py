"""A long chapter of a real book fits the LLM's context with its memory and the answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.core.manuscripts.parsing import parse_manuscript
from tests.job_client import submit, succeeded

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dom-casmurro.txt"


def test_suggestions_for_the_longest_chapter_of_dom_casmurro(api: httpx.Client) -> None:
    if not CORPUS.is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS.parent}")
    chapters = parse_manuscript("dom-casmurro.txt", CORPUS.read_bytes()).chapters
    longest = max(chapters, key=lambda c: len(c.text))
    book = api.post("/books", json={"title": "Dom Casmurro", "language": "pt-BR"}).json()["id"]
    neighbours = [c for c in chapters if c is not longest][:3]
    for chapter in [*neighbours, longest]:
        saved = api.post(
            "/chapter/save", json={"book_id": book, "title": chapter.title, "text": chapter.text}
        ).json()
        succeeded(api, saved["index_job_id"], timeout=240)
    # The prompt holds the clipped chapter (LLM_PROMPT_CHARS) and memory passages of the others.
    job = succeeded(api, submit(api, "suggest", book, saved["chapter_id"], max_tokens=32), 240)
    assert job["result"]["receipt"]["context_truncated"] is True
    assert job["result"]["citations"], job["result"]
    assert job["result"]["text"].strip()
