"""Sidebar: language, pages, books (create and select) and the readiness of every service."""

from __future__ import annotations

import streamlit as st

from services.ui.api_client import NO_RESPONSE, ApiClient, ApiError, Book
from services.ui.i18n import LANGUAGE_NAMES, Labels
from services.ui.logic import book_label, format_duration, queued_jobs, readiness_rows
from services.ui.session import flash, readiness, show_flash
from services.ui.views.archives import restore_panel, trash_panel
from services.ui.views.editor import reset_editor

PAGES = ("editor", "copilot", "manuscript", "bible", "continuity", "memory", "jobs")
STATE_ICONS = {"up": "🟢", "down": "🔴", "loading": "⏳", "unknown": "⚪"}
# While a service is not ready the panel checks again on its own at this pace.
READINESS_RECHECK_S = 3.0


def render(api: ApiClient, t: Labels) -> Book | None:
    with st.sidebar:
        st.selectbox(
            t.t("ui_language"),
            list(LANGUAGE_NAMES),
            format_func=LANGUAGE_NAMES.__getitem__,
            key="ui_language",
        )
        st.radio(
            t.t("pages"),
            PAGES,
            key="page",
            format_func=lambda page: t.t(f"page_{page}"),
        )
        st.divider()
        book = books_panel(api, t)
        trash_panel(api, t)
        restore_panel(api, t)
        st.divider()
        answer, _ = readiness(api, force=False)
        recheck = None if answer and answer.get("ready") else READINESS_RECHECK_S
        st.fragment(services_panel, run_every=recheck)(api, t)
        return book


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
            # A status box in the running state shows a spinner for as long as it is drawn.
            st.status(t.t("llm_loading"), state="running")
    if error:
        st.error(error)
    elif answer is not None and not answer.get("ready"):
        st.warning(t.t("not_ready"))
    waiting, oldest = queued_jobs(answer)
    if waiting:
        # A backlog is not an outage: say how much waits, so a slow answer is explained.
        st.caption(
            t.t("jobs_queued", n=waiting, oldest=format_duration(oldest)),
            help=t.t("jobs_queued_help"),
        )


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


def books_panel(api: ApiClient, t: Labels) -> Book | None:
    st.subheader(t.t("books"))
    show_flash("sidebar")
    try:
        books = api.list_books(limit=500)
    except ApiError as exc:
        # An API that does not answer is already shown red under Services.
        if exc.status != NO_RESPONSE:
            st.error(exc.message)
        books = []
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
