"""The Memory page: status, collections, a book's passages, reindexing and clearing."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from tests.conftest import Stack
from tests.ui.pages import no_active_jobs, open_book, run_until, values


def collection_of(api: httpx.Client, book_id: str) -> dict[str, object] | None:
    found = [
        c for c in api.get("/chroma/collections").json() if c["metadata"].get("book_id") == book_id
    ]
    return found[0] if found else None


def wait_for_indexing_to_settle(api: httpx.Client, timeout_s: float = 240) -> None:
    """Chapters saved by earlier tests may still be indexing: they would refill the memory."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pending = sum(
            api.get("/jobs", params={"kind": "index_chapter", "status": status}).json()["total"]
            for status in ("queued", "running")
        )
        if pending == 0:
            return
        time.sleep(0.5)
    raise AssertionError("index jobs still pending")


def test_memory_page_shows_the_books_passages(
    app: AppTest, api: httpx.Client, indexed_chapter: dict[str, object]
) -> None:
    book_id = str(indexed_chapter["book_id"])
    open_book(app, book_id, page="memory")
    assert not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Estado"] == "ativo"
    assert metrics["Modo"] == "servidor"
    assert int(metrics["Trechos guardados"]) >= 1

    collection = collection_of(api, book_id)
    assert collection is not None
    tables = [t.value for t in app.dataframe]
    names = list(tables[0]["Coleção"])
    assert collection["name"] in names
    row = names.index(collection["name"])
    assert tables[0]["Livro"][row] == "O Mar"
    assert tables[0]["Trechos"][row] == collection["count"]

    # The book's own passages: the chapter's text and its summary.
    passages = tables[1]
    assert set(passages["Título"]) == {"A partida"}
    assert set(passages["Tipo"]) <= {"trecho", "resumo"}
    assert "trecho" in set(passages["Tipo"])
    assert any("Ana olhou o mar" in text for text in passages["Texto"])
    assert f"{len(passages)} de {collection['count']} trechos" in values(app.caption)


def test_reindex_and_clear_the_books_memory(
    app: AppTest, api: httpx.Client, indexed_chapter: dict[str, object]
) -> None:
    book_id = str(indexed_chapter["book_id"])
    open_book(app, book_id, page="memory")

    # Clearing needs the book's title typed first.
    assert app.button(key="clear_book").disabled
    app.text_input(key="clear_book_confirm").input("outro livro").run()
    assert app.button(key="clear_book").disabled
    app.text_input(key="clear_book_confirm").input("O Mar").run()
    assert not app.button(key="clear_book").disabled
    app.button(key="clear_book").click().run()
    assert not app.exception
    assert not app.error
    assert collection_of(api, book_id) is None or collection_of(api, book_id)["count"] == 0  # type: ignore[index]
    assert any(s.startswith("Memória do livro apagada (") for s in values(app.success))
    assert "Este livro ainda não tem nada na memória." in values(app.info)

    # Reindexing puts the chapter back, as one job with a progress bar.
    app.button(key="reindex_book").click().run()
    assert not app.error
    run_until(app, no_active_jobs, what="the reindex job")
    job = api.get("/jobs", params={"book_id": book_id, "kind": "reindex_book"}).json()["items"][0]
    assert job["status"] == "succeeded", job
    assert (job["result"]["total"], job["result"]["indexed"]) == (1, 1)
    assert "1 capítulos indexados, 0 já estavam em dia (de 1)." in values(app.success)
    collection = collection_of(api, book_id)
    assert collection is not None and collection["count"] >= 1  # type: ignore[operator]


def test_clearing_all_memory_needs_the_confirmation_word(
    app: AppTest, api: httpx.Client, indexed_chapter: dict[str, object]
) -> None:
    wait_for_indexing_to_settle(api)
    open_book(app, str(indexed_chapter["book_id"]), page="memory")
    assert app.button(key="clear_all").disabled
    app.text_input(key="clear_all_confirm").input("sim").run()
    assert app.button(key="clear_all").disabled
    app.text_input(key="clear_all_confirm").input("DELETE-ALL-MEMORY").run()
    app.button(key="clear_all").click().run()
    assert not app.exception
    assert not app.error
    assert any(s.startswith("Toda a memória apagada (") for s in values(app.success))
    assert api.get("/chroma/status").json()["documents"] == 0
    assert "A memória está vazia." in values(app.info)


def test_chapters_indexed_the_old_way_are_flagged_until_reindexed(
    app: AppTest, api: httpx.Client, stack: Stack, indexed_chapter: dict[str, object]
) -> None:
    """A catalog from before the current passage format (INDEX_FORMAT): the page says so, and a
    plain reindex — no `force` needed — brings the chapter up to date."""
    book_id, chapter_id = str(indexed_chapter["book_id"]), str(indexed_chapter["chapter_id"])
    open_book(app, book_id, page="memory")
    assert not app.warning
    engine = create_engine(stack.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE chapter SET index_format = NULL WHERE id = :id"), {"id": chapter_id}
        )
    engine.dispose()
    (listed,) = api.get(f"/books/{book_id}/chapters").json()
    assert listed["in_memory"] is False

    app.run()
    assert any(w.startswith("1 de 1 capítulos não estão na memória") for w in values(app.warning))
    app.button(key="reindex_book").click().run()
    run_until(app, no_active_jobs, what="the reindex job")
    job = api.get("/jobs", params={"book_id": book_id, "kind": "reindex_book"}).json()["items"][0]
    assert (job["status"], job["result"]["indexed"], job["result"]["skipped"]) == (
        "succeeded",
        1,
        0,
    )
    (listed,) = api.get(f"/books/{book_id}/chapters").json()
    assert listed["in_memory"] is True
    app.run()
    assert not app.warning


def test_book_search_finds_highlights_and_opens_the_chapter_at_the_passage(
    app: AppTest, indexed_chapter: dict[str, object]
) -> None:
    open_book(app, str(indexed_chapter["book_id"]), page="memory")
    app.text_input(key="search_query").input("Ana e o MAR")
    app.button(key="search_button").click().run()
    assert not app.exception and not app.error
    shown = values(app.markdown)
    assert any("**Ana** olhou o **mar**" in m for m in shown), shown
    assert any("Cap. 1 — A partida · trecho 1" in m for m in shown), shown
    assert any("pelo sentido e pelas palavras" in m for m in shown), shown

    app.button(key="search_open_0").click().run()
    assert not app.exception
    assert app.session_state["page"] == "editor"
    assert app.text_input(key="editor_title").value == "A partida"
    assert any("Trecho encontrado na busca" in i and "Lisboa" in i for i in values(app.info))


def test_book_search_in_english_and_on_a_book_without_memory(
    app: AppTest, api: httpx.Client
) -> None:
    book = api.post("/books", json={"title": "Empty", "language": "en"}).json()["id"]
    open_book(app, book, page="memory")
    app.sidebar.selectbox(key="ui_language").select("en").run()
    app.text_input(key="search_query").input("sea")
    app.button(key="search_button").click().run()
    assert not app.exception and not app.error
    assert "This book has no memory yet: reindex it to search." in values(app.info)
