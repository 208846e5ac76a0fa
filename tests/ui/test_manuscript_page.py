"""The Manuscript page: reindexing the whole book with a progress bar, and exporting it.

Uploading goes through `st.file_uploader`, which AppTest cannot drive: the import is tested in
the browser (`tests/e2e/test_browser.py`).
"""

from __future__ import annotations

import httpx
from streamlit.testing.v1 import AppTest

from tests.job_client import succeeded
from tests.ui.pages import no_active_jobs, open_book, run_until, values


def test_reindex_skips_what_is_indexed_unless_forced(
    app: AppTest, api: httpx.Client, indexed_chapter: dict[str, object]
) -> None:
    book_id = str(indexed_chapter["book_id"])
    second = api.post(
        "/chapter/save",
        json={"book_id": book_id, "title": "O navio", "text": "O navio saiu com a maré."},
    ).json()
    succeeded(api, second["index_job_id"], timeout=180)
    open_book(app, book_id, page="manuscript")
    assert app.button(key="import_manuscript").disabled  # nothing uploaded yet
    assert app.button(key="preview_split").disabled

    app.button(key="reindex_book").click().run()
    run_until(app, no_active_jobs, what="the reindex job")
    assert "0 capítulos indexados, 2 já estavam em dia (de 2)." in values(app.success)

    app.toggle(key="reindex_force").set_value(True)
    app.button(key="reindex_book").click().run()
    assert not app.exception
    run_until(app, no_active_jobs, what="the forced reindex job")
    assert "2 capítulos indexados, 0 já estavam em dia (de 2)." in values(app.success)
    jobs = api.get("/jobs", params={"book_id": book_id, "kind": "reindex_book"}).json()["items"]
    assert [j["params"]["force"] for j in jobs] == [True, False]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]


def test_export_prepares_a_download(app: AppTest, chapter: dict[str, object]) -> None:
    open_book(app, str(chapter["book_id"]), page="manuscript")
    assert app.selectbox(key="export_format").options == [
        "Markdown (.md)",
        "Word (.docx)",
        "EPUB (.epub)",
    ]
    app.selectbox(key="export_format").select("epub").run()
    app.button(key="prepare_export").click().run()
    assert not app.exception
    assert not app.error
    ready = app.session_state.export_file
    assert ready.name.endswith(".epub")
    assert ready.media_type == "application/epub+zip"
    assert ready.data[:2] == b"PK"  # an EPUB is a zip
    # Another format drops the prepared file: the button never offers a stale one.
    app.selectbox(key="export_format").select("md").run()
    assert app.session_state.export_file is None
