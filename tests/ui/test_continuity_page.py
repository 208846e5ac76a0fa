"""The Continuity page: the audit runs from its button to its result, the finding shows both
quotes, and a mark set on the page reaches the API."""

from __future__ import annotations

import httpx
from streamlit.testing.v1 import AppTest

from tests.ui.pages import no_active_jobs, open_book, run_until, values

CHAPTERS = [
    ("Um", "Mara Quill chegou ao farol. Mara tinha olhos verdes e um sorriso calmo."),
    ("Dois", "A tarde caiu. O vento parou. Mara olhou o espelho: os olhos castanhos de sempre."),
]


def test_audit_findings_side_by_side_and_a_mark(app: AppTest, api: httpx.Client) -> None:
    book = api.post("/books", json={"title": "Farol", "language": "pt-BR"}).json()["id"]
    for title, text in CHAPTERS:
        saved = api.post("/chapter/save", json={"book_id": book, "title": title, "text": text})
        assert saved.status_code == 201, saved.text
    open_book(app, book, page="continuity")
    assert "Nenhum achado em aberto." in values(app.info)
    app.button(key="continuity_button").click().run()
    assert not app.exception
    run_until(app, no_active_jobs, what="the continuity audit", timeout_s=600)
    quotes = values(app.markdown)
    assert any("olhos verdes" in q for q in quotes) and any("olhos castanhos" in q for q in quotes)
    finding = api.get(f"/books/{book}/continuity/findings").json()["items"][0]
    app.button(key=f"mark:{finding['id']}:intentional").click().run()
    assert not app.exception
    marked = api.get(f"/books/{book}/continuity/findings", params={"status": "intentional"})
    assert [f["id"] for f in marked.json()["items"]] == [finding["id"]]
