"""The Streamlit page (`streamlit run services/ui/app.py`): services, books, chapters, suggestions, jobs.

The logic (formatting, job state transitions, which save to make) lives in plain functions at the
top so it can be tested without Streamlit; `main()` at the bottom only lays out widgets.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import streamlit as st

from services.core.config import Settings
from services.ui.api_client import (
    TERMINAL_STATUSES,
    ApiClient,
    ApiError,
    Book,
    Chapter,
    Job,
    JobEvent,
    Readiness,
)
from services.ui.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, Labels, labels

T = TypeVar("T")

SERVICES = ("api", "database", "redis", "worker", "llm", "chroma")
STATE_ICONS = {"up": "🟢", "down": "🔴", "loading": "⏳", "unknown": "⚪"}
POLL_INTERVAL_S = 0.5
# The page redraws a followed job at this pace; every redraw is also where Streamlit can stop
# the run when the author clicks something else, so it must not stall on the network.
REDRAW_EVERY_S = 0.25
FOLLOW_LIMIT_S = 900.0
READINESS_TTL_S = 15.0
READINESS_TTL_NOT_READY_S = 3.0
JOBS_SHOWN = 20


# ---------------------------------------------------------------------------------------------
# Plain logic
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # up | down | loading | unknown
    detail: str = ""


def readiness_rows(readiness: Readiness | None, error: str | None = None) -> list[ServiceState]:
    """One row per service; without an answer from the API the rest is unknown."""
    if readiness is None:
        return [ServiceState("api", "down", error or "")] + [
            ServiceState(name, "unknown") for name in SERVICES[1:]
        ]
    checks = readiness.get("checks") or {}
    rows = [ServiceState("api", "up")]
    for name in SERVICES[1:]:
        check = checks.get(name)
        if check is None:
            rows.append(ServiceState(name, "unknown"))
        else:
            rows.append(
                ServiceState(name, str(check.get("state", "unknown")), check.get("detail", ""))
            )
    return rows


def format_duration(seconds: float | None, none_label: str = "—") -> str:
    if seconds is None:
        return none_label
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def progress_fraction(value: float | None) -> float:
    """st.progress takes 0.0–1.0 only; the API's value is trusted but clamped anyway."""
    if value is None:
        return 0.0
    return min(1.0, max(0.0, float(value)))


def save_mode(overwrite: bool, loaded_chapter_id: str | None) -> Literal["update", "save"]:
    """Overwrite only when asked to and there is a loaded chapter to overwrite."""
    return "update" if overwrite and loaded_chapter_id else "save"


def book_label(book: Book) -> str:
    return f"{book['title']} ({book['language']})"


def chapter_label(chapter: Chapter, t: Labels) -> str:
    return t.t(
        "chapter_label",
        position=chapter["position"],
        title=chapter["title"],
        revision=chapter["current_revision"],
        words=chapter["word_count"],
    )


def status_label(status: str, t: Labels) -> str:
    return t.get(f"status_{status}", status)


def job_line(job: Job, t: Labels) -> str:
    return t.t(
        "job_line",
        kind=t.get(f"kind_{job['kind']}", job["kind"]),
        status=status_label(job["status"], t),
        duration=format_duration(job.get("duration_s"), t.t("duration_none")),
    )


@dataclass(frozen=True)
class JobView:
    """What the page knows about a followed job: the row's state plus the text streamed so far."""

    job_id: str
    status: str = "queued"
    progress: float = 0.0
    message: str = ""
    text: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def shown_text(self) -> str:
        """The final result once there is one, the streamed text until then."""
        if self.result and isinstance(self.result.get("text"), str):
            return str(self.result["text"])
        return self.text


def apply_event(view: JobView, event: JobEvent) -> JobView:
    """The job after one event of its stream (a `status`/`final` event carries the whole row)."""
    data = event.data
    if event.event in ("status", "final"):
        return replace(
            view,
            status=str(data.get("status", view.status)),
            progress=max(view.progress, progress_fraction(data.get("progress"))),
            message=str(data.get("message") or view.message),
            result=data.get("result"),
            error=data.get("error"),
        )
    if event.event == "progress":
        return replace(
            view,
            progress=max(view.progress, progress_fraction(data.get("progress"))),
            message=str(data.get("message") or view.message),
        )
    if event.event == "delta":
        return replace(view, text=view.text + str(data.get("text", "")))
    if event.event == "reset":
        # A retry starts the generation anew: what was streamed so far is void.
        return replace(view, text="", message=str(data.get("message") or view.message))
    return view


def view_from_job(view: JobView, job: Job) -> JobView:
    """Merge a polled job row into the view (the streamed text is kept)."""
    return apply_event(view, JobEvent("status", dict(job)))


class JobEventFollower:
    """Reads a job's event stream on a daemon thread so the page keeps redrawing meanwhile.

    A Streamlit run can only be stopped (the author clicked something) when it writes an element;
    a read blocked on a quiet stream would freeze the page for as long as the job sits in a queue.
    """

    def __init__(self, events: Callable[[], Generator[JobEvent, None, None]]) -> None:
        self._events = events
        self._queue: queue.Queue[JobEvent] = queue.Queue()
        self._stop = threading.Event()
        self.ended = threading.Event()
        self.error: ApiError | None = None
        self._thread = threading.Thread(target=self._run, name="job-events", daemon=True)

    def start(self) -> JobEventFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with closing(self._events()) as stream:
                for event in stream:
                    self._queue.put(event)
                    if self._stop.is_set() or event.event == "final":
                        return
        except ApiError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def take(self, wait_s: float) -> list[JobEvent]:
        """The events that arrived, waiting up to `wait_s` for the first one."""
        taken: list[JobEvent] = []
        try:
            taken.append(self._queue.get(timeout=wait_s))
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            return taken

    def stop(self) -> None:
        self._stop.set()


# ---------------------------------------------------------------------------------------------
# Session state and API access
# ---------------------------------------------------------------------------------------------


def session_api() -> ApiClient:
    """One client per browser session, built from the settings (API_URL, API_TOKEN) once."""
    if "api" not in st.session_state:
        st.session_state.api = ApiClient.from_settings(Settings())
    client: ApiClient = st.session_state.api
    return client


def shown(call: Callable[[], T]) -> T | None:
    """Run an API call; a failure becomes an error box with the API's message."""
    try:
        return call()
    except ApiError as exc:
        st.error(exc.message)
        return None


def flash(area: str, kind: str, message: str) -> None:
    """A message for the next run: callbacks run before the page is drawn."""
    st.session_state.setdefault("flash", []).append((area, kind, message))


def show_flash(area: str) -> None:
    pending = st.session_state.get("flash", [])
    for entry in [e for e in pending if e[0] == area]:
        _, kind, message = entry
        {"success": st.success, "error": st.error, "info": st.info}[kind](message)
        pending.remove(entry)


def reset_editor() -> None:
    st.session_state.loaded = None
    st.session_state.editor_title = ""
    st.session_state.editor_text = ""
    st.session_state.editor_overwrite = False


def readiness(api: ApiClient, force: bool) -> tuple[Readiness | None, str | None]:
    """/ready at most every few seconds: it pings the worker and the LLM on each call."""
    cached = st.session_state.get("readiness")
    if cached and not force:
        fetched_at, answer, error = cached
        ttl = READINESS_TTL_S if answer and answer.get("ready") else READINESS_TTL_NOT_READY_S
        if time.monotonic() - fetched_at < ttl:
            return answer, error
    try:
        answer, error = api.ready(), None
    except ApiError as exc:
        answer, error = None, exc.message
    st.session_state.readiness = (time.monotonic(), answer, error)
    return answer, error


# ---------------------------------------------------------------------------------------------
# Callbacks (they run before the page is drawn, so they may set any widget's value)
# ---------------------------------------------------------------------------------------------


def on_create_book(api: ApiClient, t: Labels) -> None:
    state = st.session_state
    try:
        book = api.create_book(
            state.new_book_title,
            state.new_book_language,
            state.new_book_genre.strip() or None,
            state.new_book_synopsis.strip() or None,
        )
    except ApiError as exc:
        flash("sidebar", "error", exc.message)
        return
    state.book_id = book["id"]
    state.new_book_title = state.new_book_genre = state.new_book_synopsis = ""
    reset_editor()
    flash("sidebar", "success", t.t("book_created", title=book["title"]))


def on_load_chapter(api: ApiClient) -> None:
    chapter_id = st.session_state.get("chapter_id")
    if not chapter_id:
        return
    try:
        chapter = api.get_chapter(chapter_id)
    except ApiError as exc:
        flash("editor", "error", exc.message)
        return
    st.session_state.loaded = {
        "chapter_id": chapter["id"],
        "revision": chapter["current_revision"],
        "title": chapter["title"],
    }
    st.session_state.editor_title = chapter["title"]
    st.session_state.editor_text = chapter["text"]
    st.session_state.editor_overwrite = True


def on_save_chapter(api: ApiClient, book_id: str, t: Labels) -> None:
    state = st.session_state
    loaded = state.get("loaded")
    mode = save_mode(state.get("editor_overwrite", False), loaded["chapter_id"] if loaded else None)
    try:
        if mode == "update" and loaded:
            saved = api.update_chapter(
                book_id,
                loaded["chapter_id"],
                title=state.editor_title,
                text=state.editor_text,
                expected_revision=loaded["revision"],
            )
        else:
            saved = api.save_chapter(book_id, state.editor_title, state.editor_text)
    except ApiError as exc:
        flash("editor", "error", exc.message)
        return
    # The editor now holds the saved chapter: saving again makes its next revision.
    state.loaded = {
        "chapter_id": saved["chapter_id"],
        "revision": saved["revision"],
        "title": saved["title"],
    }
    state.editor_overwrite = True
    state.chapter_id = saved["chapter_id"]
    flash(
        "editor",
        "success",
        t.t(
            "chapter_saved",
            title=saved["title"],
            revision=saved["revision"],
            words=saved["word_count"],
        ),
    )


def on_cancel_job(api: ApiClient, job_id: str) -> None:
    try:
        api.cancel_job(job_id)
    except ApiError as exc:
        flash("jobs", "error", exc.message)


# ---------------------------------------------------------------------------------------------
# Page sections
# ---------------------------------------------------------------------------------------------


def sidebar(api: ApiClient, t: Labels) -> Book | None:
    with st.sidebar:
        st.selectbox(
            t.t("ui_language"),
            list(LANGUAGE_NAMES),
            format_func=LANGUAGE_NAMES.__getitem__,
            key="ui_language",
        )
        services_panel(api, t)
        st.divider()
        return books_panel(api, t)


def services_panel(api: ApiClient, t: Labels) -> None:
    head, button = st.columns([3, 2], vertical_alignment="center")
    head.subheader(t.t("services"))
    force = button.button(t.t("refresh"), key="refresh_ready")
    answer, error = readiness(api, force)
    for row in readiness_rows(answer, error):
        line = f"{STATE_ICONS.get(row.state, '⚪')} **{t.t('service_' + row.name)}**: "
        line += t.get(f"state_{row.state}", row.state)
        st.markdown(line, help=row.detail or None)
        if row.name == "llm" and row.state == "loading":
            st.info(t.t("llm_loading"), icon="⏳")
    if error:
        st.error(error)
    elif answer is not None and not answer.get("ready"):
        st.warning(t.t("not_ready"))


def books_panel(api: ApiClient, t: Labels) -> Book | None:
    st.subheader(t.t("books"))
    show_flash("sidebar")
    books = shown(lambda: api.list_books(limit=500)) or []
    by_id = {b["id"]: b for b in books}
    if st.session_state.get("book_id") not in by_id:
        st.session_state.book_id = books[-1]["id"] if books else None
    if books:
        st.selectbox(
            t.t("select_book"),
            list(by_id),
            format_func=lambda book_id: book_label(by_id[book_id]),
            key="book_id",
            on_change=reset_editor,
        )
    else:
        st.caption(t.t("no_books"))
    with st.expander(t.t("new_book"), expanded=not books), st.form("new_book_form"):
        st.text_input(t.t("book_title"), key="new_book_title", max_chars=300)
        st.selectbox(
            t.t("book_language"),
            list(LANGUAGE_NAMES),
            format_func=LANGUAGE_NAMES.__getitem__,
            key="new_book_language",
        )
        st.text_input(t.t("book_genre"), key="new_book_genre", max_chars=120)
        st.text_area(t.t("book_synopsis"), key="new_book_synopsis")
        st.form_submit_button(
            t.t("create_book"), key="create_book", on_click=on_create_book, args=(api, t)
        )
    return by_id.get(st.session_state.book_id)


def chapters_section(api: ApiClient, book: Book, t: Labels) -> list[Chapter]:
    st.subheader(t.t("chapters"))
    chapters = shown(lambda: api.list_chapters(book["id"]))
    if chapters is None:
        return []
    if not chapters:
        st.info(t.t("no_chapters"))
        return []
    st.dataframe(
        [
            {
                t.t("col_position"): c["position"],
                t.t("col_title"): c["title"],
                t.t("col_revision"): c["current_revision"],
                t.t("col_words"): c["word_count"],
            }
            for c in chapters
        ],
        hide_index=True,
    )
    by_id = {c["id"]: c for c in chapters}
    if st.session_state.get("chapter_id") not in by_id:
        st.session_state.chapter_id = chapters[0]["id"]
    pick, load = st.columns([4, 1], vertical_alignment="bottom")
    pick.selectbox(
        t.t("chapter"),
        list(by_id),
        format_func=lambda chapter_id: chapter_label(by_id[chapter_id], t),
        key="chapter_id",
    )
    load.button(t.t("load_chapter"), key="load_chapter", on_click=on_load_chapter, args=(api,))
    return chapters


def editor_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("editor"))
    state = st.session_state
    for key, default in (("editor_title", ""), ("editor_text", ""), ("editor_overwrite", False)):
        state.setdefault(key, default)
    loaded = state.get("loaded")
    if loaded:
        st.caption(t.t("editing", title=loaded["title"], revision=loaded["revision"]))
    else:
        st.caption(t.t("editing_none"))
        state.editor_overwrite = False
    show_flash("editor")
    with st.form("editor_form"):
        st.text_input(t.t("chapter_title"), key="editor_title", max_chars=300)
        st.text_area(t.t("chapter_text"), key="editor_text", height=300)
        st.toggle(
            t.t("overwrite"),
            key="editor_overwrite",
            disabled=not loaded,
            help=t.t("overwrite_help"),
        )
        st.form_submit_button(
            t.t("save_chapter"),
            key="save_chapter",
            type="primary",
            on_click=on_save_chapter,
            args=(api, book["id"], t),
        )
    st.button(t.t("new_chapter"), key="new_chapter", on_click=reset_editor)


def suggestions_section(
    api: ApiClient, book: Book, chapters: list[Chapter], t: Labels
) -> Callable[[], None]:
    """Draws the controls now; returns what draws the job, to be called once the page is drawn."""
    st.subheader(t.t("suggestions"))
    state = st.session_state
    by_id = {c["id"]: c for c in chapters}
    chapter = by_id.get(state.get("chapter_id", ""))
    if chapter is None:
        st.info(t.t("no_chapters"))
        return lambda: None
    st.caption(t.t("suggest_for", title=chapter["title"]))
    st.text_area(t.t("instructions"), key="suggest_instructions", height=80)
    st.number_input(
        t.t("max_tokens"),
        key="suggest_max_tokens",
        value=None,
        min_value=16,
        max_value=8192,
        step=64,
        placeholder=t.t("max_tokens_default"),
    )
    active = state.get("active_job")
    busy = bool(active and active["chapter_id"] == chapter["id"])
    if st.button(t.t("generate"), key="generate", type="primary", disabled=busy):
        instructions = state.get("suggest_instructions", "").strip() or None
        max_tokens = state.get("suggest_max_tokens")
        job = shown(
            lambda: api.suggest(
                book["id"], chapter["id"], instructions=instructions, max_tokens=max_tokens
            )
        )
        if job is not None:
            active = state.active_job = {"job_id": job["id"], "chapter_id": chapter["id"]}
    box = st.container()

    def draw() -> None:
        with box:
            if active and active["chapter_id"] == chapter["id"]:
                follow_active_job(api, active["job_id"], chapter["id"], t)
            else:
                show_outcome(state.get("outcomes", {}).get(chapter["id"]), t)

    return draw


def follow_active_job(api: ApiClient, job_id: str, chapter_id: str, t: Labels) -> None:
    """Stream the job's progress and text until it ends, then redraw the page with the result."""
    view = JobView(job_id, message=t.t("job_queued"))
    bar = st.progress(0.0, text=view.message)
    text_box = st.empty()
    follower = JobEventFollower(lambda: api.job_events(job_id)).start()
    deadline = time.monotonic() + FOLLOW_LIMIT_S
    try:
        while not view.finished and time.monotonic() < deadline:
            for event in follower.take(REDRAW_EVERY_S):
                view = apply_event(view, event)
            if follower.ended.is_set() and not view.finished:
                # The stream broke off before the end: the job row answers from now on.
                time.sleep(POLL_INTERVAL_S)
                view = view_from_job(view, api.get_job(job_id))
            bar.progress(progress_fraction(view.progress), text=view.message or t.t("job_queued"))
            if view.text:
                text_box.markdown(view.text)
    except ApiError as exc:
        st.error(exc.message)
        st.session_state.active_job = None
        return
    finally:
        follower.stop()
    st.session_state.active_job = None
    if not view.finished:
        st.info(t.t("job_lost"))
        return
    st.session_state.setdefault("outcomes", {})[chapter_id] = view
    st.rerun()  # the jobs list and the outcome are drawn afresh


def show_outcome(view: JobView | None, t: Labels) -> None:
    if view is None:
        return
    if view.status == "succeeded":
        st.success(t.t("suggestions_ready"))
        st.markdown(view.shown_text)
    elif view.status == "failed":
        st.error(t.t("job_failed", error=view.error or view.message))
    elif view.status == "cancelled":
        st.warning(t.t("job_cancelled"))


def jobs_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("jobs"))
    show_flash("jobs")
    page = shown(lambda: api.list_jobs(book_id=book["id"], limit=JOBS_SHOWN))
    if page is None:
        return
    if not page["items"]:
        st.info(t.t("no_jobs"))
        return
    for job in page["items"]:
        with st.container(border=True):
            line, action = st.columns([5, 1], vertical_alignment="center")
            line.markdown(f"**{job_line(job, t)}**")
            line.progress(progress_fraction(job["progress"]), text=job["message"] or None)
            if job["error"]:
                line.error(job["error"])
            if job["status"] not in TERMINAL_STATUSES:
                action.button(
                    t.t("cancel"),
                    key=f"cancel_{job['id']}",
                    on_click=on_cancel_job,
                    args=(api, job["id"]),
                )


def main() -> None:
    st.set_page_config(page_title="Copiloto", page_icon="✍️", layout="wide")
    t = labels(st.session_state.get("ui_language", DEFAULT_LANGUAGE))
    api = session_api()
    book = sidebar(api, t)
    st.title(t.t("app_title"))
    st.caption(t.t("app_caption"))
    if book is None:
        st.info(t.t("pick_book"))
        return
    st.header(book["title"])
    st.caption(t.t("book_meta", language=book["language"], genre=book["genre"] or t.t("no_genre")))
    chapters = chapters_section(api, book, t)
    editor_section(api, book, t)
    draw_job = suggestions_section(api, book, chapters, t)
    jobs_section(api, book, t)
    # Last: following a job takes as long as the job, and everything above is drawn by then.
    draw_job()


if __name__ == "__main__":
    main()
