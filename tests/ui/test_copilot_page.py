"""The Copilot page: ask with memory and citations, ideas as cards, a scene saved as a chapter."""

from __future__ import annotations

import httpx
from streamlit.testing.v1 import AppTest

from tests.ui.pages import no_active_jobs, open_book, run_until, values

CHAPTER_TEXT = "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa."


def test_asking_with_memory_cites_the_chapter_and_the_citation_opens_it(
    app: AppTest, api: httpx.Client, indexed_chapter: dict[str, object]
) -> None:
    book_id = str(indexed_chapter["book_id"])
    open_book(app, book_id, page="copilot")
    app.text_area(key="ask_question").input("Para onde Ana embarcou?")
    app.slider(key="ask_top_k").set_value(3)
    app.number_input(key="ask_max_tokens").set_value(48)
    app.button(key="ask_button").click().run()
    assert not app.exception
    assert not app.error
    run_until(app, no_active_jobs, what="the ask job")

    job = api.get("/jobs", params={"book_id": book_id, "kind": "ask"}).json()["items"][0]
    assert job["status"] == "succeeded", job
    assert job["params"] == {
        "question": "Para onde Ana embarcou?",
        "use_memory": True,
        "top_k": 3,
        "max_tokens": 48,
    }
    answer = job["result"]["answer"].strip()
    assert answer in [v.strip() for v in values(app.markdown)]
    assert "Resposta a: Para onde Ana embarcou?" in values(app.caption)
    citation = app.button(key="citation_0")
    assert citation.label == "Cap. 1: A partida"
    assert any(CHAPTER_TEXT in caption for caption in values(app.caption))  # the passage

    # The citation opens its chapter in the editor.
    citation.click().run()
    assert not app.exception
    assert app.session_state.page == "editor"
    assert app.text_input(key="editor_title").value == "A partida"
    assert app.text_area(key="editor_text").value == CHAPTER_TEXT


def test_asking_without_memory_sends_no_passages(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    book_id = str(chapter["book_id"])
    open_book(app, book_id, page="copilot")
    app.button(key="ask_button").click().run()
    assert "Escreva uma pergunta primeiro." in values(app.warning)
    assert api.get("/jobs", params={"book_id": book_id, "kind": "ask"}).json()["total"] == 0

    app.text_area(key="ask_question").input("Como começa uma boa história?")
    app.toggle(key="ask_use_memory").set_value(False).run()
    assert app.slider(key="ask_top_k").disabled
    app.number_input(key="ask_max_tokens").set_value(32)
    app.button(key="ask_button").click().run()
    run_until(app, no_active_jobs, what="the ask job")
    job = api.get("/jobs", params={"book_id": book_id, "kind": "ask"}).json()["items"][0]
    assert job["status"] == "succeeded", job
    assert job["params"]["use_memory"] is False
    assert "top_k" not in job["params"]
    assert job["result"]["citations"] == []
    assert "Resposta sem trechos do livro." in values(app.caption)


def test_ideas_become_cards_and_a_card_becomes_a_saved_chapter(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    book_id = str(chapter["book_id"])
    open_book(app, book_id, page="copilot")
    # One idea: the small test model writes 2+ ideas' JSON slowly and sometimes loops.
    app.text_input(key="ideate_theme").input("saudade e recomeço")
    app.number_input(key="ideate_count").set_value(1)
    app.number_input(key="scene_max_tokens").set_value(64)
    app.button(key="ideate").click().run()
    run_until(app, no_active_jobs, what="the ideate job")

    job = api.get("/jobs", params={"book_id": book_id, "kind": "ideate"}).json()["items"][0]
    assert job["status"] == "succeeded", job
    ideas = job["result"]["ideas"]
    assert len(ideas) == 1
    shown = values(app.markdown)
    for idea in ideas:
        assert f"**{idea['title']}**" in shown
    write_buttons = [b for b in app.button if b.key and b.key.startswith("write_idea_")]
    assert len(write_buttons) == 1

    # The first card is written as a scene (streamed), then saved as a chapter.
    app.button(key="write_idea_0").click().run()
    assert not app.exception
    run_until(app, no_active_jobs, what="the expand job")
    scene_job = api.get("/jobs", params={"book_id": book_id, "kind": "expand"}).json()["items"][0]
    assert scene_job["status"] == "succeeded", scene_job
    assert scene_job["params"]["idea"]["title"] == ideas[0]["title"]
    assert scene_job["params"]["max_tokens"] == 64
    scene = scene_job["result"]["text"]
    assert scene.strip() in [v.strip() for v in values(app.markdown)]
    assert app.text_input(key="scene_title").value == ideas[0]["title"]

    app.text_input(key="scene_title").input("A tempestade")
    app.button(key="save_scene").click().run()
    assert not app.exception
    assert not app.error
    chapters = api.get(f"/books/{book_id}/chapters").json()
    assert [c["title"] for c in chapters] == ["A partida", "A tempestade"]
    saved = api.get(f"/chapters/{chapters[1]['id']}").json()
    assert saved["text"] == scene
    assert "Capítulo “A tempestade” salvo (rev. 1, " in " ".join(values(app.success))
    # Saved once: the button now opens the chapter instead of saving it again.
    assert not [b for b in app.button if b.key == "save_scene"]
    app.button(key="open_saved_scene").click().run()
    assert app.session_state.page == "editor"
    assert app.text_input(key="editor_title").value == "A tempestade"
