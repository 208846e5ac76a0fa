"""The Streamlit page driven by AppTest against the real API, and the page's plain logic."""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from services.ui.api_client import ApiError, JobEvent
from services.ui.app import (
    JobEventFollower,
    JobView,
    ServiceState,
    apply_event,
    format_duration,
    progress_fraction,
    readiness_rows,
    save_mode,
    view_from_job,
)
from services.ui.i18n import LABELS, labels
from tests.conftest import Stack, free_port

# AppTest resolves a relative path against the calling file, so the script is named absolutely.
APP = Path(__file__).resolve().parents[2] / "services" / "ui" / "app.py"


@pytest.fixture()
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("API_URL", stack.api_url)
    return AppTest.from_file(str(APP), default_timeout=60).run()


def open_book(app: AppTest, book_id: str) -> AppTest:
    app.run()  # the book may be younger than the page's list of books
    app.sidebar.selectbox(key="book_id").select(book_id).run()
    assert not app.exception
    return app


def values(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# The page against the running stack
# ---------------------------------------------------------------------------------------------


def test_page_renders_with_every_service_ready(app: AppTest) -> None:
    assert not app.exception
    assert values(app.title) == ["Copiloto"]
    lines = values(app.sidebar.markdown)
    for service in ("API", "Banco de dados", "Redis", "Worker", "LLM"):
        assert f"🟢 **{service}**: ativo" in lines, lines
    assert not app.sidebar.error
    assert not app.sidebar.warning


def test_english_labels(app: AppTest) -> None:
    app.sidebar.selectbox(key="ui_language").select("en").run()
    assert not app.exception
    assert "🟢 **Database**: up" in values(app.sidebar.markdown)
    assert "Services" in values(app.sidebar.subheader)
    assert app.sidebar.button(key="create_book").label == "Create book"


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
    detail = api.get(f"/chapters/{chapter['chapter_id']}").json()
    assert (detail["current_revision"], detail["text"]) == (2, "Outro.")


def test_generate_suggestions_follows_the_job_to_its_result(
    app: AppTest, api: httpx.Client, chapter: dict[str, object]
) -> None:
    open_book(app, str(chapter["book_id"]))
    app.selectbox(key="chapter_id").select(chapter["chapter_id"]).run()
    app.text_area(key="suggest_instructions").input("Mais suspense.")
    app.number_input(key="suggest_max_tokens").set_value(96)
    app.button(key="generate").click().run(timeout=180)
    assert not app.exception
    assert not app.error

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
    # The jobs list, drawn after the job ended, shows it finished with a full bar.
    assert any(v.startswith("**sugestões · concluído · ") for v in values(app.markdown))
    assert 100 in [p.value for p in app.progress]
    assert app.session_state.active_job is None


def test_page_without_an_api_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert "🔴 **API**: fora do ar" in values(app.sidebar.markdown)
    assert any("cannot reach the API" in e for e in values(app.sidebar.error))
    assert "Escolha ou crie um livro na barra lateral." in values(app.info)


# ---------------------------------------------------------------------------------------------
# Plain logic
# ---------------------------------------------------------------------------------------------


def test_job_view_follows_a_stream_with_a_retry() -> None:
    events = [
        JobEvent("status", {"status": "queued", "progress": 0.0, "message": ""}),
        JobEvent("progress", {"progress": 0.05, "message": "Generating suggestions"}),
        JobEvent("delta", {"text": "Ana"}),
        JobEvent("reset", {"message": "retrying"}),
        JobEvent("delta", {"text": "Ana "}),
        JobEvent("delta", {"text": "partiu."}),
        JobEvent("progress", {"progress": 0.01, "message": "late and stale"}),
        JobEvent("comment", {"text": "keep-alive"}),
    ]
    view = JobView("j1")
    for event in events:
        view = apply_event(view, event)
    assert (view.status, view.progress, view.text) == ("queued", 0.05, "Ana partiu.")
    assert view.message == "late and stale"
    assert not view.finished
    assert view.shown_text == "Ana partiu."

    final = apply_event(
        view,
        JobEvent(
            "final",
            {"status": "succeeded", "progress": 1.0, "message": "done", "result": {"text": "X"}},
        ),
    )
    assert final.finished
    assert (final.progress, final.shown_text, final.text) == (1.0, "X", "Ana partiu.")


def test_a_polled_failed_job_keeps_its_error() -> None:
    polled = {"status": "failed", "progress": 0.4, "message": "", "result": None, "error": "boom"}
    view = view_from_job(JobView("j1", progress=0.5, message="Generating"), polled)  # type: ignore[arg-type]
    assert (view.status, view.progress, view.message, view.error) == (
        "failed",
        0.5,
        "Generating",
        "boom",
    )
    assert view.finished


def test_follower_hands_over_events_and_errors() -> None:
    def stream() -> Generator[JobEvent, None, None]:
        yield JobEvent("status", {"status": "running"})
        yield JobEvent("final", {"status": "succeeded"})
        yield JobEvent("delta", {"text": "never read"})

    follower = JobEventFollower(stream).start()
    assert follower.ended.wait(5)
    taken = follower.take(0.1)
    assert [e.event for e in taken] == ["status", "final"]
    assert follower.error is None

    def broken() -> Generator[JobEvent, None, None]:
        yield JobEvent("status", {"status": "running"})
        raise ApiError(0, "lost the event stream")

    follower = JobEventFollower(broken).start()
    assert follower.ended.wait(5)
    assert [e.event for e in follower.take(0.1)] == ["status"]
    assert follower.error is not None and follower.error.status == 0


def test_follower_take_waits_only_as_long_as_asked() -> None:
    def quiet() -> Generator[JobEvent, None, None]:
        time.sleep(2)
        yield JobEvent("final", {})

    follower = JobEventFollower(quiet).start()
    started = time.monotonic()
    assert follower.take(0.2) == []
    assert time.monotonic() - started < 1.0
    follower.stop()


def test_readiness_rows() -> None:
    assert readiness_rows(None, "cannot reach the API") == [
        ServiceState("api", "down", "cannot reach the API"),
        ServiceState("database", "unknown"),
        ServiceState("redis", "unknown"),
        ServiceState("worker", "unknown"),
        ServiceState("llm", "unknown"),
        ServiceState("chroma", "unknown"),
    ]
    answer = {
        "ready": False,
        "checks": {
            "database": {"state": "up", "detail": "sqlite", "ok": True},
            "llm": {"state": "loading", "detail": "loading its model", "ok": False},
        },
    }
    rows = readiness_rows(answer)  # type: ignore[arg-type]
    assert [(r.name, r.state) for r in rows] == [
        ("api", "up"),
        ("database", "up"),
        ("redis", "unknown"),
        ("worker", "unknown"),
        ("llm", "loading"),
        ("chroma", "unknown"),
    ]


def test_formatting() -> None:
    assert format_duration(None) == "—"
    assert format_duration(0.84) == "0.8 s"
    assert format_duration(75.2) == "1 min 15 s"
    assert [progress_fraction(v) for v in (None, -0.5, 0.25, 3.0)] == [0.0, 0.0, 0.25, 1.0]


def test_save_mode() -> None:
    assert save_mode(True, "chapter-1") == "update"
    assert save_mode(True, None) == "save"
    assert save_mode(False, "chapter-1") == "save"


def test_both_languages_have_every_label() -> None:
    assert LABELS["pt-BR"].keys() == LABELS["en"].keys()
    assert labels(None).language == "pt-BR"
    assert labels("fr").t("generate") == "Gerar sugestões"
    assert labels("en").t("chapter_saved", title="A", revision=2, words=3) == (
        "Chapter “A” saved (rev. 2, 3 words)."
    )


def test_every_label_key_is_used_by_the_page() -> None:
    source = APP.read_text(encoding="utf-8")
    dynamic_prefixes = ("service_", "state_", "status_", "kind_")
    unused = [
        key
        for key in LABELS["en"]
        if f'"{key}"' not in source and not key.startswith(dynamic_prefixes)
    ]
    assert unused == []
