"""The Jobs page: the book's jobs with progress, filters, cancel, and a result with its receipt."""

from __future__ import annotations

import time

import httpx
from streamlit.testing.v1 import AppTest

from tests.job_client import finished, submit, succeeded
from tests.ui.pages import open_book, values


def test_jobs_page_lists_a_finished_job_with_its_result_and_receipt(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    book_id = str(chapter["book_id"])
    job = succeeded(api, submit(api, "suggest", book_id, str(chapter["chapter_id"]), max_tokens=32))
    open_book(app, book_id, page="jobs")
    assert not app.error
    lines = values(app.markdown)
    assert any(line.startswith("**sugestões · concluído · ") for line in lines), lines
    assert 100 in [p.value for p in app.progress]
    assert "Resultado e recibo" in [e.label for e in app.main.expander]
    assert job["result"]["text"].strip() in [v.strip() for v in lines]
    receipt = job["result"]["receipt"]
    assert receipt["completion_tokens"] and receipt["prompt_tokens"]
    assert (
        f"Modelo {receipt['model']} · {receipt['prompt_tokens']} tokens de entrada · "
        f"{receipt['completion_tokens']} tokens gerados · {len(receipt['passages'])} trechos usados"
    ) in values(app.caption)

    # Filtering by kind leaves only that kind (the chapter's indexing job disappears).
    assert any(line.startswith("**indexação · ") for line in values(app.markdown))
    app.selectbox(key="jobs_kind").select("suggest").run()
    assert not any(line.startswith("**indexação · ") for line in values(app.markdown))
    assert "1 trabalhos" in values(app.caption)


def test_a_running_job_can_be_cancelled_from_the_jobs_page(
    app: AppTest, api: httpx.Client, book: dict[str, str]
) -> None:
    # A long answer keeps the job running for a while on the small model.
    job_id = submit(api, "ask", book["id"], question="Conte uma longa história.", max_tokens=4000)
    deadline = time.monotonic() + 60
    while api.get(f"/jobs/{job_id}").json()["status"] == "queued":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    open_book(app, book["id"], page="jobs")
    assert any(line.startswith("**pergunta · em execução · ") for line in values(app.markdown))
    app.button(key=f"cancel_{job_id}").click().run()
    assert not app.exception
    assert not app.error
    job = finished(api, job_id, timeout=60)
    assert job["status"] == "cancelled", job
    app.run()
    assert any(line.startswith("**pergunta · cancelado · ") for line in values(app.markdown))
    assert not [b for b in app.button if b.key == f"cancel_{job_id}"]
