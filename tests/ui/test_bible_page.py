"""The Bible page under AppTest against a real stack: the build button with its progress bar,
the list with its filters in both languages, an entity's timeline with its quotes, edits that
round-trip through the API, a quote that opens the editor, and the export.

The stack runs without the LLM pass after each save (BIBLE_AUTO_EXTRACT=false) and the page's
build runs without the LLM: facts come from the author here (POST /facts), so the counts stay
still while the test reads them. Uploading goes through `st.file_uploader`, which AppTest
cannot drive: the import is tested in tests/api/test_bible_portability.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from services.launcher.processes import wait_until
from tests.api.test_bible import CHAPTERS, bible
from tests.api.test_bible_portability import build
from tests.conftest import Stack
from tests.ui.pages import no_active_jobs, open_app, open_book, run_until, values

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def bible_stack(new_stack: Callable[..., Stack]) -> Iterator[Stack]:
    running = new_stack("bibleui", extra_env={"BIBLE_AUTO_EXTRACT": "false"})
    try:
        with running.client() as client:
            wait_until(
                lambda: client.get("/ready").status_code == 200, timeout=60, what="ready", proc=None
            )
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def bapi(bible_stack: Stack) -> Iterator[httpx.Client]:
    with bible_stack.client() as client:
        yield client


def new_book(api: httpx.Client) -> tuple[str, list[str]]:
    book = api.post("/books", json={"title": "Dom Casmurro", "language": "pt-BR"}).json()["id"]
    ids = []
    for title, text in CHAPTERS:
        saved = api.post("/chapter/save", json={"book_id": book, "title": title, "text": text})
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["chapter_id"])
    return str(book), ids


@pytest.fixture(scope="module")
def built(bapi: httpx.Client) -> tuple[str, list[str], str]:
    """A book with its bible built and one fact, quoted, on Capitu."""
    book, chapters = new_book(bapi)
    build(bapi, book)
    items = bapi.get(f"{bible(book)}/entities", params={"q": "Capitu"}).json()["items"]
    capitu = next(e["id"] for e in items if e["name"] == "Capitu")
    fact = bapi.post(
        f"{bible(book)}/facts",
        json={
            "entity_id": capitu,
            "attribute": "age",
            "value": "catorze anos",
            "chapter_id": chapters[0],
            "quote": "Capitu tinha catorze anos",
        },
    )
    assert fact.status_code == 201, fact.text
    return book, chapters, capitu


def author_fact(api: httpx.Client, book: str, entity_id: str) -> dict[str, Any]:
    facts = api.get(f"{bible(book)}/entities/{entity_id}").json()["facts"]
    return next(f for f in facts if f["origin"] == "author")


@pytest.fixture()
def app(bible_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("API_URL", bible_stack.api_url)
    return open_app()


def entity_table(app: AppTest) -> dict[str, list[object]]:
    return {c: list(app.dataframe[0].value[c]) for c in app.dataframe[0].value.columns}


def test_the_build_button_follows_the_job(app: AppTest, bapi: httpx.Client) -> None:
    book, _ = new_book(bapi)
    open_book(app, book, page="bible")
    assert "Nada na bíblia ainda: monte-a acima, ou mude os filtros." in values(app.info)
    app.toggle(key="bible_use_llm").set_value(False)
    app.button(key="build_bible").click().run()
    assert not app.exception
    run_until(app, no_active_jobs, what="the bible build")
    jobs = bapi.get("/jobs", params={"book_id": book, "kind": "build_bible"}).json()["items"]
    assert jobs[0]["params"]["use_llm"] is False
    if jobs[0]["status"] == "succeeded":
        assert [v for v in values(app.success) if v.startswith("4 capítulos extraídos")]
        assert "Capitu" in entity_table(app)["Nome"]
    else:  # a chapter lost the race over a new name: the page says so and a re-run finishes
        assert app.error
        app.button(key="build_bible").click().run()
        run_until(app, no_active_jobs, what="the bible build, again")
        assert "Capitu" in entity_table(app)["Nome"]


@pytest.mark.parametrize("language", ["pt-BR", "en"])
def test_the_page_lists_filters_and_draws_in_both_languages(
    app: AppTest, built: tuple[str, list[str], str], language: str
) -> None:
    from services.ui.i18n import LABELS

    labels = LABELS[language]
    book, chapters, _ = built
    app.sidebar.selectbox(key="ui_language").select(language).run()
    open_book(app, book, page="bible")
    assert not app.error, values(app.error)
    assert any(c.endswith(f" · {labels['page_bible']}") for c in values(app.caption))
    listed = entity_table(app)
    names = listed[labels["bible_col_name"]]
    mentions = listed[labels["bible_col_mentions"]]
    assert names[:2] == ["Bentinho", "Capitu"] and mentions == sorted(mentions, reverse=True)
    assert {"Bentinho", "Escobar", "José Dias"} <= set(names)
    assert labels["bible_heatmap"] in "".join(values(app.markdown))
    # The kind filter and the search.
    app.selectbox(key="bible_kind").select("place").run()
    kinds = set(entity_table(app)[labels["bible_col_kind"]])
    assert kinds == {labels["bible_kind_place"]}, kinds
    app.selectbox(key="bible_kind").select("all").run()
    app.text_input(key="bible_q").input("escob").run()
    assert entity_table(app)[labels["bible_col_name"]] == ["Escobar"]
    # Who is on stage in the last chapter: Bentinho, not Escobar (dead by then).
    app.selectbox(key="bible_stage").select(chapters[-1]).run()
    on_stage = app.dataframe[-1].value[labels["bible_col_name"]]
    assert "Bentinho" in list(on_stage) and "Escobar" not in list(on_stage)


def test_the_timeline_shows_quotes_and_edits_round_trip(
    app: AppTest, bapi: httpx.Client, built: tuple[str, list[str], str]
) -> None:
    book, chapters, capitu = built
    open_book(app, book, page="bible")
    app.selectbox(key="bible_entity").select(capitu).run()
    assert "“Capitu tinha catorze anos”" in values(app.caption)
    assert any("idade: catorze anos" in m for m in values(app.markdown))
    fact_id = author_fact(bapi, book, capitu)["id"]

    app.button(key=f"bible_pin_{fact_id}").click().run()
    assert not app.exception
    assert author_fact(bapi, book, capitu)["pinned"] is True
    assert any("📌" in m for m in values(app.markdown))
    app.button(key=f"bible_mark_{fact_id}").click().run()
    assert author_fact(bapi, book, capitu)["intentional"] is True

    # Rename and give an alias in place.
    app.text_input(key=f"bible_name_{capitu}").input("Capitolina").run()
    app.text_input(key=f"bible_aliases_{capitu}").input("Capitu, Capi").run()
    app.button(key=f"bible_save_{capitu}").click().run()
    assert not app.exception
    assert "Entidade salva." in values(app.success)
    stored = bapi.get(f"{bible(book)}/entities/{capitu}").json()
    assert stored["name"] == "Capitolina" and set(stored["aliases"]) == {"Capitu", "Capi"}

    # The quote opens its chapter in the editor.
    app.button(key=f"bible_open_{fact_id}").click().run()
    assert not app.exception
    assert app.session_state.page == "editor"
    assert app.session_state.chapter_id == chapters[0]
    assert "Capitu tinha catorze anos" in app.session_state.editor_text
    # … with the quote shown where it stands, in bold.
    assert any("**Capitu tinha catorze anos**" in i for i in values(app.info)), values(app.info)

    # A fact deleted from the timeline is gone from the API too.
    open_book(app, book, page="bible")
    app.selectbox(key="bible_entity").select(capitu).run()
    app.button(key=f"bible_delete_fact_{fact_id}").click().run()
    left = bapi.get(f"{bible(book)}/entities/{capitu}").json()["facts"]
    assert fact_id not in {f["id"] for f in left}
    assert "“Capitu tinha catorze anos”" not in values(app.caption)

    # An author-made entity asks for confirmation before it goes.
    made = bapi.post(
        f"{bible(book)}/entities", json={"kind": "object", "name": "O retrato"}
    ).json()["id"]
    open_book(app, book, page="bible")
    app.selectbox(key="bible_entity").select(made).run()
    app.button(key=f"bible_delete_{made}").click().run()
    assert bapi.get(f"{bible(book)}/entities/{made}").status_code == 200
    assert [w for w in values(app.warning) if "confirmação" in w]
    app.checkbox(key=f"bible_confirm_{made}").check().run()
    app.button(key=f"bible_delete_{made}").click().run()
    assert bapi.get(f"{bible(book)}/entities/{made}").status_code == 404


def test_the_export_prepares_a_download(app: AppTest, built: tuple[str, list[str], str]) -> None:
    book, _, _ = built
    open_book(app, book, page="bible")
    app.selectbox(key="bible_export_format").select("markdown").run()
    app.button(key="bible_prepare_export").click().run()
    assert not app.exception and not app.error
    ready = app.session_state.bible_export_file
    assert ready.name.endswith(".bible.md") and b"### Bentinho" in ready.data


def test_notes_show_and_two_entities_merge(
    app: AppTest, bapi: httpx.Client, built: tuple[str, list[str], str]
) -> None:
    book, _, _ = built
    lore = {"entries": [{"displayName": "Sancha", "keys": ["Sancha"], "text": "Amiga de Capitu."}]}
    imported = bapi.post(
        f"{bible(book)}/import",
        params={"format": "novelai"},
        files={"file": ("lore.json", json.dumps(lore).encode(), "application/json")},
    )
    assert imported.status_code == 200, imported.text
    items = bapi.get(f"{bible(book)}/entities", params={"limit": 500}).json()["items"]
    ids = {e["name"]: e["id"] for e in items}
    open_book(app, book, page="bible")
    app.selectbox(key="bible_entity").select(ids["Sancha"]).run()
    assert any("Amiga de Capitu." in v for v in values(app.info))

    app.selectbox(key="bible_entity").select(ids["Escobar"]).run()
    app.multiselect(key=f"bible_merge_{ids['Escobar']}").select(ids["Sancha"]).run()
    app.button(key=f"bible_merge_button_{ids['Escobar']}").click().run()
    assert not app.exception
    assert "Entidades unidas." in values(app.success)
    merged = bapi.get(f"{bible(book)}/entities/{ids['Escobar']}").json()
    assert "Sancha" in merged["aliases"]
    assert bapi.get(f"{bible(book)}/entities/{ids['Sancha']}").status_code == 404
