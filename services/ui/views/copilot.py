"""Copilot: ask the book (with its memory), generate ideas, write a scene, save it as a chapter."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Book, Chapter
from services.ui.i18n import Labels
from services.ui.logic import JobView, chapter_label, citation_label, excerpt, unique_citations
from services.ui.session import (
    flash,
    job_button,
    job_panel,
    max_tokens_input,
    result_field,
    show_flash,
    show_notes,
    shown,
    start_job,
)
from services.ui.views.editor import load_into_editor

DEFAULT_TOP_K = 5


def render(api: ApiClient, book: Book, t: Labels) -> None:
    chapters = shown(lambda: api.list_chapters(book["id"])) or []
    ask_section(api, book, t)
    st.divider()
    ideas_section(api, book, t)
    st.divider()
    scene_section(api, book, chapters, t)


# ---------------------------------------------------------------------------------------------
# Ask
# ---------------------------------------------------------------------------------------------


def on_open_citation(api: ApiClient, chapter_id: str) -> None:
    """A citation opens its chapter in the editor."""
    if load_into_editor(api, chapter_id):
        st.session_state.page = "editor"


def ask_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("ask"))
    slot = f"ask:{book['id']}"
    show_flash(slot)
    state = st.session_state
    st.text_area(t.t("question"), key="ask_question", height=90)
    memory, top_k = st.columns(2, vertical_alignment="center")
    memory.toggle(t.t("use_memory"), key="ask_use_memory", value=True, help=t.t("use_memory_help"))
    top_k.slider(
        t.t("top_k"),
        min_value=1,
        max_value=20,
        value=DEFAULT_TOP_K,
        key="ask_top_k",
        disabled=not state.get("ask_use_memory", True),
    )
    max_tokens_input("ask_max_tokens", t)
    job_button(t.t("ask_button"), "ask_button", slot, on_ask, (api, book["id"], t))
    job_panel(api, slot, t, show_outcome=lambda view: answer_outcome(api, view, t))


def on_ask(api: ApiClient, book_id: str, t: Labels) -> None:
    state = st.session_state
    slot = f"ask:{book_id}"
    question = state.get("ask_question", "").strip()
    if not question:
        flash(slot, "warning", t.t("question_missing"))
        return
    use_memory = bool(state.get("ask_use_memory", True))
    top_k = int(state.get("ask_top_k", DEFAULT_TOP_K)) if use_memory else None
    max_tokens = state.get("ask_max_tokens")
    start_job(
        slot,
        lambda: api.ask(
            book_id, question, use_memory=use_memory, top_k=top_k, max_tokens=max_tokens
        ),
        slot,
    )


def answer_outcome(api: ApiClient, view: JobView, t: Labels) -> None:
    question = result_field(view, "question")
    if question:
        st.caption(t.t("answer_to", question=question))
    st.markdown(view.shown_text)
    show_notes(view, t)
    citations = unique_citations(result_field(view, "citations") or [])
    if not citations:
        st.caption(t.t("no_citations"))
        return
    st.markdown(f"**{t.t('sources')}**")
    for index, citation in enumerate(citations):
        st.button(
            citation_label(citation, t),
            key=f"citation_{index}",
            icon="📖",
            type="tertiary",
            on_click=on_open_citation,
            args=(api, str(citation["chapter_id"])),
            help=t.t("open_citation"),
        )
        st.caption(excerpt(str(citation.get("passage") or "")))


# ---------------------------------------------------------------------------------------------
# Ideas
# ---------------------------------------------------------------------------------------------


def ideas_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("ideas"))
    slot = f"ideate:{book['id']}"
    show_flash(slot)
    theme, count = st.columns([4, 1], vertical_alignment="bottom")
    theme.text_input(t.t("idea_theme"), key="ideate_theme", max_chars=2000)
    count.number_input(t.t("idea_count"), min_value=1, max_value=10, value=3, key="ideate_count")
    job_button(t.t("ideate"), "ideate", slot, on_ideate, (api, book["id"]))
    # The model writes JSON: the cards appear when it is parsed, the bar shows the way there.
    job_panel(
        api, slot, t, stream_text=False, show_outcome=lambda view: idea_cards(api, book, view, t)
    )


def on_ideate(api: ApiClient, book_id: str) -> None:
    state = st.session_state
    theme = state.get("ideate_theme", "").strip() or None
    count = int(state.get("ideate_count", 3))
    slot = f"ideate:{book_id}"
    start_job(slot, lambda: api.ideate(book_id, count=count, theme=theme), slot)


def idea_cards(api: ApiClient, book: Book, view: JobView, t: Labels) -> None:
    ideas: list[dict[str, Any]] = result_field(view, "ideas") or []
    show_notes(view, t)
    columns = st.columns(min(3, max(1, len(ideas))))
    for index, idea in enumerate(ideas):
        with columns[index % len(columns)], st.container(border=True):
            st.markdown(f"**{idea.get('title', '')}**")
            st.write(idea.get("logline", ""))
            if idea.get("conflict"):
                st.caption(t.t("idea_conflict", conflict=idea["conflict"]))
            if idea.get("characters"):
                st.caption(t.t("idea_characters", names=", ".join(idea["characters"])))
            if idea.get("hook"):
                st.caption(t.t("idea_hook", hook=idea["hook"]))
            st.button(
                t.t("write_from_idea"),
                key=f"write_idea_{index}",
                on_click=on_write_from_idea,
                args=(api, book["id"], idea),
            )


def on_write_from_idea(api: ApiClient, book_id: str, idea: dict[str, Any]) -> None:
    slot = f"expand:{book_id}"
    st.session_state.scene_title = str(idea.get("title") or "")
    # Widget values are in the session state when callbacks run: the scene's length control.
    budget = st.session_state.get("scene_max_tokens")
    start_job(slot, lambda: api.expand(book_id, idea=idea, max_tokens=budget), slot)


# ---------------------------------------------------------------------------------------------
# Scene
# ---------------------------------------------------------------------------------------------


def scene_section(api: ApiClient, book: Book, chapters: list[Chapter], t: Labels) -> None:
    st.subheader(t.t("scene"))
    slot = f"expand:{book['id']}"
    show_flash(slot)
    state = st.session_state
    if chapters:
        by_id = {c["id"]: c for c in chapters}
        if state.get("scene_chapter_id") not in by_id:
            state.scene_chapter_id = chapters[-1]["id"]
        st.selectbox(
            t.t("scene_from_chapter"),
            list(by_id),
            key="scene_chapter_id",
            format_func=lambda chapter_id: chapter_label(by_id[chapter_id], t),
        )
    st.text_area(t.t("scene_instructions"), key="scene_instructions", height=80)
    max_tokens_input("scene_max_tokens", t)
    job_button(
        t.t("write_scene"),
        "write_scene",
        slot,
        on_write_scene,
        (api, book["id"], bool(chapters), t),
    )
    job_panel(api, slot, t, show_outcome=lambda view: scene_outcome(api, book, view, t))


def on_write_scene(api: ApiClient, book_id: str, has_chapters: bool, t: Labels) -> None:
    state = st.session_state
    slot = f"expand:{book_id}"
    instructions = state.get("scene_instructions", "").strip() or None
    chapter_id = state.get("scene_chapter_id") if has_chapters else None
    if chapter_id is None and instructions is None:
        flash(slot, "warning", t.t("scene_needs_start"))
        return
    max_tokens = state.get("scene_max_tokens")
    state.scene_title = ""
    start_job(
        slot,
        lambda: api.expand(
            book_id, chapter_id=chapter_id, instructions=instructions, max_tokens=max_tokens
        ),
        slot,
    )


def scene_outcome(api: ApiClient, book: Book, view: JobView, t: Labels) -> None:
    with st.container(border=True):
        st.markdown(view.shown_text)
    show_notes(view, t)
    saved_id = result_field(view, "saved_chapter_id") or st.session_state.get(
        "saved_scenes", {}
    ).get(view.job_id)
    if saved_id:
        st.button(
            t.t("open_saved_scene"),
            key="open_saved_scene",
            icon="📖",
            on_click=on_open_citation,
            args=(api, str(saved_id)),
        )
        return
    state = st.session_state
    if not state.get("scene_title"):
        state.scene_title = str(result_field(view, "title") or "")
    st.text_input(t.t("chapter_title"), key="scene_title", max_chars=300)
    st.button(
        t.t("save_scene"),
        key="save_scene",
        type="primary",
        on_click=on_save_scene,
        args=(api, book["id"], view, t),
    )


def on_save_scene(api: ApiClient, book_id: str, view: JobView, t: Labels) -> None:
    state = st.session_state
    slot = f"expand:{book_id}"
    title = str(state.get("scene_title") or "").strip() or t.t("untitled_scene")
    try:
        saved = api.save_chapter(book_id, title, view.shown_text)
    except ApiError as exc:
        flash(slot, "error", exc.message)
        return
    state.setdefault("saved_scenes", {})[view.job_id] = saved["chapter_id"]
    state.scene_title = ""
    flash(
        slot,
        "success",
        t.t(
            "chapter_saved",
            title=saved["title"],
            revision=saved["revision"],
            words=saved["word_count"],
        ),
    )
