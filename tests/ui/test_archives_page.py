"""The whole-book archive and delete on the Manuscript page, and the Lixeira in the sidebar.

Restoring from an archive goes through `st.file_uploader`, which AppTest cannot drive; the API
and CLI tests restore archives."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
from streamlit.testing.v1 import AppTest

from tests.ui.pages import open_book, values


def test_archive_delete_then_restore_and_purge_from_the_trash(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    book_id = str(chapter["book_id"])
    open_book(app, book_id, page="manuscript")
    app.button(key="prepare_archive").click().run()
    assert not app.exception and not app.error
    ready = app.session_state.archive_file
    assert ready.name.endswith(f"-{book_id}.copiloto.zip")
    with zipfile.ZipFile(io.BytesIO(ready.data)) as archive:
        assert json.loads(archive.read("book.json"))["id"] == book_id

    # Deleting needs the exact title; the book then leaves the list for the Lixeira.
    assert app.button(key="delete_book").disabled
    app.text_input(key="delete_book_confirm").input("o mar").run()
    assert app.button(key="delete_book").disabled
    app.text_input(key="delete_book_confirm").input("O Mar").run()
    app.button(key="delete_book").click().run()
    assert not app.exception and not app.error
    assert "“O Mar” foi para a Lixeira." in values(app.sidebar.success)
    choices = [s.options for s in app.sidebar.selectbox if s.key == "book_id"]
    assert not choices or book_id not in choices[0]  # no selectbox when no book is left
    assert api.get(f"/books/{book_id}").status_code == 404

    app.sidebar.button(key=f"trash_restore_{book_id}").click().run()
    assert not app.exception
    assert "“O Mar” voltou da Lixeira." in values(app.sidebar.success)
    assert app.session_state.book_id == book_id
    assert api.get(f"/books/{book_id}").status_code == 200

    app.sidebar.radio(key="page").set_value("manuscript").run()
    app.text_input(key="delete_book_confirm").input("O Mar").run()
    app.button(key="delete_book").click().run()
    purge = app.sidebar.button(key=f"trash_purge_{book_id}")
    assert purge.disabled  # needs the box ticked first
    app.sidebar.checkbox(key=f"purge_sure_{book_id}").check().run()
    app.sidebar.button(key=f"trash_purge_{book_id}").click().run()
    assert not app.exception
    assert "“O Mar” foi apagado de vez." in values(app.sidebar.success)
    assert book_id not in [t["book"]["id"] for t in api.get("/trash").json()]
    assert api.get(f"/chapters/{chapter['chapter_id']}").status_code == 404


def test_the_trash_speaks_english_too(app: AppTest) -> None:
    app.sidebar.selectbox(key="ui_language").select("en").run()
    assert not app.exception
    assert "Trash" in [e.label for e in app.sidebar.expander]
    assert "Restore from an archive" in [e.label for e in app.sidebar.expander]
