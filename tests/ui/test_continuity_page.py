"""The Continuity page: the audit runs from its button to its result, the finding shows both
quotes, a quote opens its chapter in the editor, the chapter list counts open findings, and a
mark set on the page reaches the API."""

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

    later = finding["citations"][1]
    app.button(key=f"continuity_open:{finding['id']}:1").click().run()
    assert not app.exception
    assert app.session_state.page == "editor"
    assert app.session_state.chapter_id == later["chapter_id"]
    assert "olhos castanhos" in app.session_state.editor_text
    assert list(app.dataframe[0].value["Achados abertos"]) == [1, 1]

    open_book(app, book, page="continuity")
    app.button(key=f"mark:{finding['id']}:intentional").click().run()
    assert not app.exception
    marked = api.get(f"/books/{book}/continuity/findings", params={"status": "intentional"})
    assert [f["id"] for f in marked.json()["items"]] == [finding["id"]]
    open_book(app, book, page="editor")
    assert list(app.dataframe[0].value["Achados abertos"]) == [0, 0]
