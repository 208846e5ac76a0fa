"""The sidebar and the Editor page, driven by AppTest against the real API and worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import Stack, free_port
from tests.ui.pages import no_active_jobs, open_app, open_book, run_until, values


def test_page_renders_with_every_service_ready(app: AppTest) -> None:
    assert not app.exception
    assert values(app.title) == ["Copiloto"]
    lines = values(app.sidebar.markdown)
    for service in ("API", "Banco de dados", "Redis", "Worker", "LLM", "Memória (Chroma)"):
        assert f"🟢 **{service}**: ativo" in lines, lines
    assert not app.sidebar.error
    assert not app.sidebar.warning
    assert app.sidebar.radio(key="page").options == [
        "Editor",
        "Copiloto",
        "Manuscrito",
        "Bíblia",
        "Continuidade",
        "Memória",
        "Trabalhos",
    ]


def test_english_labels(app: AppTest) -> None:
    app.sidebar.selectbox(key="ui_language").select("en").run()
    assert not app.exception
    assert "🟢 **Database**: up" in values(app.sidebar.markdown)
    assert "Services" in values(app.sidebar.subheader)
    assert app.sidebar.button(key="create_book").label == "Create book"
    assert app.sidebar.radio(key="page").options == [
        "Editor",
        "Copilot",
        "Manuscript",
        "Bible",
        "Continuity",
        "Memory",
        "Jobs",
    ]


def test_sidebar_shows_the_backlog(
    new_stack: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no worker running, a save's indexing waits: the sidebar says how much is queued."""
    stack = new_stack("ui-backlog", with_worker=False)
    try:
        with stack.client() as api:
            book = api.post("/books", json={"title": "Fila", "language": "pt-BR"}).json()["id"]
            for n in range(2):
                saved = api.post(
                    "/chapter/save", json={"book_id": book, "title": f"C{n}", "text": "Texto."}
                )
                assert saved.status_code == 201, saved.text
        monkeypatch.setenv("API_URL", stack.api_url)
        app = open_app()
        assert not app.exception
        captions = values(app.sidebar.caption)
        assert any(c.startswith("⏳ 2 trabalhos na fila") for c in captions), captions
        app.sidebar.selectbox(key="ui_language").select("en").run()
        assert any(c.startswith("⏳ 2 jobs queued") for c in values(app.sidebar.caption))
    finally:
        stack.stop()


def test_creating_a_book_in_the_sidebar_stores_and_selects_it(
    app: AppTest, api: httpx.Client
) -> None:
    title = f"Livro {uuid.uuid4().hex[:8]}"
    app.sidebar.text_input(key="new_book_title").input(title)
    app.sidebar.selectbox(key="new_book_language").select("en")
    app.sidebar.text_input(key="new_book_genre").input("fantasia")
    app.sidebar.text_area(key="new_book_synopsis").input("Uma ilha que some.")
    app.sidebar.button(key="create_book").click().run()
    assert not app.exception
    assert not app.error

    stored = [b for b in api.get("/books", params={"limit": 500}).json() if b["title"] == title]
    assert len(stored) == 1
    book = stored[0]
    assert (book["language"], book["genre"], book["synopsis"]) == (
        "en",
        "fantasia",
        "Uma ilha que some.",
    )
    assert app.session_state.book_id == book["id"]
    assert values(app.header) == [title]
    assert f"Livro “{title}” criado." in values(app.sidebar.success)
    # The form is empty again for the next book.
    assert app.sidebar.text_input(key="new_book_title").value == ""


def test_a_rejected_book_shows_the_apis_message_not_a_traceback(
    app: AppTest, api: httpx.Client
) -> None:
    before = len(api.get("/books", params={"limit": 500}).json())
    app.sidebar.text_input(key="new_book_title").input("   ")
    app.sidebar.button(key="create_book").click().run()
    assert not app.exception
    assert values(app.sidebar.error) == ["title: title must not be blank"]
    assert len(api.get("/books", params={"limit": 500}).json()) == before


def test_saving_and_overwriting_a_chapter(
    app: AppTest, api: httpx.Client, book: dict[str, str]
) -> None:
    open_book(app, book["id"])
    assert "Este livro ainda não tem capítulos." in values(app.info)
    assert app.toggle(key="editor_overwrite").disabled  # nothing loaded yet

    app.text_input(key="editor_title").input("O cais")
    app.text_area(key="editor_text").input("Ana chegou ao cais antes do sol.")
    app.button(key="save_chapter").click().run()
    assert not app.exception
    assert not app.error
    chapters = api.get(f"/books/{book['id']}/chapters").json()
    assert [(c["title"], c["current_revision"], c["word_count"]) for c in chapters] == [
        ("O cais", 1, 7)
    ]
    assert "Capítulo “O cais” salvo (rev. 1, 7 palavras)." in values(app.success)
    assert "7 palavras" in values(app.caption)

    # The editor now holds that chapter, and overwriting is on: the next save is revision 2.
    assert app.toggle(key="editor_overwrite").value is True
    app.text_area(key="editor_text").input("Ana chegou ao cais depois do sol.")
    app.button(key="save_chapter").click().run()
    assert not app.exception
    chapters = api.get(f"/books/{book['id']}/chapters").json()
    assert [(c["title"], c["current_revision"]) for c in chapters] == [("O cais", 2)]
    detail = api.get(f"/chapters/{chapters[0]['id']}").json()
    assert detail["text"] == "Ana chegou ao cais depois do sol."

    # With the toggle off the same text becomes a second chapter.
    app.toggle(key="editor_overwrite").set_value(False)
    app.text_input(key="editor_title").input("O navio")
    app.button(key="save_chapter").click().run()
    assert not app.exception
    titles = [c["title"] for c in api.get(f"/books/{book['id']}/chapters").json()]
    assert titles == ["O cais", "O navio"]


def test_overwriting_a_chapter_someone_else_changed_shows_the_conflict(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    open_book(app, str(chapter["book_id"]))
    app.selectbox(key="chapter_id").select(chapter["chapter_id"]).run()
    app.button(key="load_chapter").click().run()
    assert app.text_input(key="editor_title").value == "A partida"
    assert app.text_area(key="editor_text").value.startswith("Ana olhou o mar")

    elsewhere = api.put(
        "/chapter/update",
        json={"book_id": chapter["book_id"], "chapter_id": chapter["chapter_id"], "text": "Outro."},
    )
    assert elsewhere.status_code == 200, elsewhere.text

    app.text_area(key="editor_text").input("Minha versão.")
    app.button(key="save_chapter").click().run()
    assert not app.exception
    assert len(app.error) == 1
    assert "revision" in app.error[0].value
    detail = api.get(f"/chapters/{chapter['chapter_id']}").json()
    assert (detail["current_revision"], detail["text"]) == (2, "Outro.")


def test_revisions_show_a_diff_and_restore_an_old_text(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    first = "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa."
    open_book(app, str(chapter["book_id"]))
    app.button(key="load_chapter").click().run()
    app.text_area(key="editor_text").input("Ana ficou em terra e viu o navio partir.")
    app.button(key="save_chapter").click().run()
    assert not app.exception

    picker = app.selectbox(key="revision_pick")
    assert picker.options == ["Revisão 2", "Revisão 1"]
    # The current revision shows no diff; the one before it is picked first.
    picker.select(2).run()
    assert "Esta é a revisão atual." in values(app.caption)
    assert app.button(key="restore_revision").disabled
    app.selectbox(key="revision_pick").select(1).run()
    assert not app.exception
    diff = [c.value for c in app.code if c.language == "diff"]
    assert len(diff) == 1
    assert f"-{first}" in diff[0].splitlines()
    assert "+Ana ficou em terra e viu o navio partir." in diff[0].splitlines()
    assert first in values(app.markdown)

    app.button(key="restore_revision").click().run()
    assert not app.exception
    assert not app.error
    detail = api.get(f"/chapters/{chapter['chapter_id']}").json()
    assert (detail["current_revision"], detail["text"]) == (3, first)
    assert [r["source"] for r in detail["revisions"]] == ["author", "author", "restore"]
    assert "Revisão 1 restaurada como revisão 3." in values(app.success)
    assert app.text_area(key="editor_text").value == first
    assert app.session_state.loaded["revision"] == 3


def test_suggestions_and_critique_follow_their_jobs_to_the_result(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    open_book(app, str(chapter["book_id"]))
    app.selectbox(key="chapter_id").select(chapter["chapter_id"]).run()
    app.text_area(key="suggest_instructions").input("Mais suspense.")
    app.number_input(key="suggest_max_tokens").set_value(96)
    app.button(key="generate").click().run()
    assert not app.exception
    assert not app.error
    # While the job runs the slot shows a bar and a cancel button, and generating is disabled.
    if not no_active_jobs(app):
        assert app.button(key="generate").disabled
        assert app.button(key=f"cancel_suggest:{chapter['chapter_id']}")
    run_until(app, no_active_jobs, what="the suggestions job")

    jobs = api.get("/jobs", params={"book_id": chapter["book_id"], "kind": "suggest"}).json()
    mine = [j for j in jobs["items"] if j["chapter_id"] == chapter["chapter_id"]]
    assert len(mine) == 1
    job = mine[0]
    assert job["status"] == "succeeded", job
    assert job["params"]["instructions"] == "Mais suspense."
    assert job["params"]["max_tokens"] == 96
    result_text = job["result"]["text"]
    assert result_text.strip()
    assert "Sugestões prontas." in values(app.success)
    # st.markdown trims the text it is given.
    assert result_text.strip() in [v.strip() for v in values(app.markdown)]

    app.text_input(key="critique_focus").input("datas")
    app.number_input(key="critique_max_tokens").set_value(64)
    app.button(key="analyse").click().run()
    run_until(app, no_active_jobs, what="the critique job")
    critiques = api.get("/jobs", params={"book_id": chapter["book_id"], "kind": "critique"})
    job = critiques.json()["items"][0]
    assert job["status"] == "succeeded", job
    assert (job["params"]["focus"], job["params"]["max_tokens"]) == ("datas", 64)
    assert "Análise pronta." in values(app.success)
    assert job["result"]["text"].strip() in [v.strip() for v in values(app.markdown)]
    # Both results are kept as the chapter's artifacts, listed under the tools.
    assert "Resultados guardados deste capítulo (2)" in [e.label for e in app.main.expander]
    assert len(app.selectbox(key="artifact_pick").options) == 2


def test_page_without_an_api_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    app = open_app()
    assert not app.exception
    assert "🔴 **API**: fora do ar" in values(app.sidebar.markdown)
    assert [e for e in values(app.sidebar.error) if "cannot reach the API" in e]
    assert len(app.sidebar.error) == 1  # said once, not once per panel
    assert "Escolha ou crie um livro na barra lateral." in values(app.info)


@pytest.mark.parametrize("language", ["pt-BR", "en"])
def test_every_page_draws_in_both_languages(
    app: AppTest, chapter: dict[str, object], language: str
) -> None:
    from services.ui.i18n import LABELS

    labels = LABELS[language]
    app.sidebar.selectbox(key="ui_language").select(language).run()
    for page in ("editor", "copilot", "manuscript", "bible", "continuity", "memory", "jobs"):
        open_book(app, str(chapter["book_id"]), page=page)
        assert not app.exception, (page, app.exception)
        assert not app.error, (page, values(app.error))
        assert any(c.endswith(f" · {labels['page_' + page]}") for c in values(app.caption)), page


def test_metadata_is_extracted_stored_and_shown(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    open_book(app, str(chapter["book_id"]))
    app.button(key="extract_metadata").click().run()
    assert not app.exception
    run_until(app, no_active_jobs, what="the metadata job")
    job = api.get(
        "/jobs", params={"book_id": chapter["book_id"], "kind": "extract_metadata"}
    ).json()["items"][0]
    assert job["status"] == "succeeded", job
    stored = api.get(f"/chapters/{chapter['chapter_id']}").json()["metadata"]
    assert stored == job["result"]["metadata"]
    table = app.dataframe[-1].value
    assert list(table["Campo"])[:3] == ["Gênero", "Tom", "Narrador"]
    assert list(table["Valor"])[:3] == [stored["genre"], stored["tone"], stored["pov"]]
