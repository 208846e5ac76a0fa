"""Editor: chapters in order, the text of one, its revisions, and the copilot tools for it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Book, Chapter, ChapterDetail
from services.ui.i18n import Labels
from services.ui.logic import (
    JobView,
    chapter_label,
    citation_label,
    excerpt,
    quote_context,
    revision_diff,
    save_mode,
    unique_citations,
    word_count,
)
from services.ui.session import (
    flash,
    job_button,
    job_panel,
    max_tokens_input,
    outcome,
    show_flash,
    show_notes,
    shown,
    start_job,
)


def reset_editor() -> None:
    st.session_state.loaded = None
    st.session_state.editor_title = ""
    st.session_state.editor_text = ""
    st.session_state.editor_overwrite = False


def load_into_editor(api: ApiClient, chapter_id: str) -> bool:
    """Put a chapter's current text in the editor (used by the editor and by citations)."""
    try:
        chapter = api.get_chapter(chapter_id)
    except ApiError as exc:
        flash("editor", "error", exc.message)
        return False
    state = st.session_state
    state.loaded = {
        "chapter_id": chapter["id"],
        "revision": chapter["current_revision"],
        "title": chapter["title"],
    }
    state.chapter_id = chapter["id"]
    state.editor_title = chapter["title"]
    state.editor_text = chapter["text"]
    state.editor_overwrite = True
    return True


def open_with_focus(api: ApiClient, chapter_id: str, **focus: Any) -> None:
    """Open a chapter in the editor with what led there shown above the text: a search's
    `passage`, or a bible fact's or audit citation's `quote` (and its `start`) in place."""
    if load_into_editor(api, chapter_id):
        st.session_state.editor_focus = {"chapter_id": chapter_id, **focus}
        st.session_state.page = "editor"


def open_at_quote(api: ApiClient, chapter_id: str, quote: str, start: int | None) -> None:
    """Open a chapter in the editor with a quote of it shown in place (bible, audit)."""
    open_with_focus(api, chapter_id, quote=quote, start=start)


def on_load_chapter(api: ApiClient) -> None:
    chapter_id = st.session_state.get("chapter_id")
    if chapter_id:
        load_into_editor(api, chapter_id)


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
    message = t.t(
        "chapter_saved", title=saved["title"], revision=saved["revision"], words=saved["word_count"]
    )
    flash("editor", "success", message)


def on_restore(api: ApiClient, chapter_id: str, t: Labels) -> None:
    number = st.session_state.get("revision_pick")
    if not number:
        return
    try:
        saved = api.restore_revision(chapter_id, int(number))
    except ApiError as exc:
        flash("editor", "error", exc.message)
        return
    if load_into_editor(api, chapter_id):
        message = t.t("revision_restored", number=number, revision=saved["revision"])
        flash("editor", "success", message)


def render(api: ApiClient, book: Book, t: Labels) -> None:
    chapters = chapters_section(api, book, t)
    editor_section(api, book, t)
    revisions_section(api, t)
    chapter = next((c for c in chapters if c["id"] == st.session_state.get("chapter_id")), None)
    if chapter is not None:
        tools_section(api, book, chapter, t)
        artifacts_section(api, chapter, t)


def open_findings(api: ApiClient, book_id: str) -> dict[str, int]:
    """Open findings per chapter, for the chapter list ({} when the audit cannot be read)."""
    try:
        page = api.continuity_findings(book_id, "open")
    except ApiError:
        return {}
    counts: dict[str, int] = {}
    for finding in page["items"]:
        for chapter_id in {c["chapter_id"] for c in finding["citations"]}:
            counts[chapter_id] = counts.get(chapter_id, 0) + 1
    return counts


def chapters_section(api: ApiClient, book: Book, t: Labels) -> list[Chapter]:
    st.subheader(t.t("chapters"))
    chapters = shown(lambda: api.list_chapters(book["id"]))
    if chapters is None:
        return []
    if not chapters:
        st.info(t.t("no_chapters"))
        return []
    findings = open_findings(api, book["id"])
    st.dataframe(
        [
            {
                t.t("col_position"): c["position"],
                t.t("col_title"): c["title"],
                t.t("col_revision"): c["current_revision"],
                t.t("col_words"): c["word_count"],
                t.t("col_findings"): findings.get(c["id"], 0),
            }
            for c in chapters
        ],
        hide_index=True,
        height=min(36 * (len(chapters) + 1) + 2, 320),
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
    focus = state.get("editor_focus")
    if focus and loaded and focus["chapter_id"] == loaded["chapter_id"]:
        if "quote" in focus:
            # Opened from a bible fact or an audit citation: the quote where it stands.
            around = quote_context(state.editor_text, focus["quote"], focus.get("start"))
            st.info(
                f"{t.t('editor_quote')}\n\n{around}"
                if around is not None
                else t.t("editor_quote_gone", quote=excerpt(focus["quote"], 300))
            )
        else:
            # Opened from book search: the passage that was found, to locate it in the text.
            st.info(f"{t.t('editor_focus')}\n\n> {excerpt(focus['passage'], 400)}")
    with st.form("editor_form"):
        st.text_input(t.t("chapter_title"), key="editor_title", max_chars=300)
        st.text_area(t.t("chapter_text"), key="editor_text", height=360)
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
    words, new = st.columns([4, 1], vertical_alignment="center")
    words.caption(t.t("word_count", words=word_count(state.editor_text)))
    new.button(t.t("new_chapter"), key="new_chapter", on_click=reset_editor)


def revisions_section(api: ApiClient, t: Labels) -> None:
    loaded = st.session_state.get("loaded")
    if not loaded:
        return
    detail = shown(lambda: api.get_chapter(loaded["chapter_id"]))
    if detail is None:
        return
    with st.expander(t.t("revisions", count=len(detail["revisions"]))):
        st.dataframe(
            [
                {
                    t.t("col_revision"): r["number"],
                    t.t("col_title"): r["title"],
                    t.t("col_source"): t.get(f"source_{r['source']}", r["source"]),
                    t.t("col_words"): r["word_count"],
                    t.t("col_when"): r["created_at"][:19].replace("T", " "),
                }
                for r in reversed(detail["revisions"])
            ],
            hide_index=True,
        )
        numbers = [r["number"] for r in reversed(detail["revisions"])]
        seen = (detail["id"], detail["current_revision"])
        if st.session_state.get("revision_pick_for") != seen or (
            st.session_state.get("revision_pick") not in numbers
        ):
            # A new revision (or chapter): show the one before it, the likeliest to compare.
            st.session_state.revision_pick_for = seen
            st.session_state.revision_pick = numbers[1] if len(numbers) > 1 else numbers[0]
        st.selectbox(
            t.t("revision_pick"),
            numbers,
            key="revision_pick",
            format_func=lambda n: t.t("revision_option", number=n),
        )
        revision_view(api, detail, int(st.session_state.revision_pick), t)


def revision_view(api: ApiClient, detail: ChapterDetail, number: int, t: Labels) -> None:
    revision = shown(lambda: api.get_revision(detail["id"], number))
    if revision is None:
        return
    text = revision.get("text") or ""
    read, diff = st.tabs([t.t("revision_text"), t.t("revision_diff")])
    with read, st.container(height=260):
        st.markdown(text)
    with diff:
        if number == detail["current_revision"]:
            st.caption(t.t("revision_is_current"))
        else:
            changes = revision_diff(
                text,
                detail["text"],
                t.t("revision_option", number=number),
                t.t("revision_current", number=detail["current_revision"]),
            )
            st.code(changes or t.t("revision_same"), language="diff")
    st.button(
        t.t("restore_revision", number=number),
        key="restore_revision",
        disabled=number == detail["current_revision"],
        on_click=on_restore,
        args=(api, detail["id"], t),
    )


def tools_section(api: ApiClient, book: Book, chapter: Chapter, t: Labels) -> None:
    st.subheader(t.t("tools_for", title=chapter["title"]))
    suggest_tab, critique_tab, metadata_tab = st.tabs(
        [t.t("suggestions"), t.t("critique"), t.t("metadata")]
    )
    with suggest_tab:
        suggestions_tool(api, book, chapter, t)
    with critique_tab:
        critique_tool(api, book, chapter, t)
    with metadata_tab:
        metadata_tool(api, book, chapter, t)


def on_suggest(api: ApiClient, book_id: str, chapter_id: str) -> None:
    state = st.session_state
    instructions = state.get("suggest_instructions", "").strip() or None
    max_tokens = state.get("suggest_max_tokens")
    slot = f"suggest:{chapter_id}"
    start_job(
        slot,
        lambda: api.suggest(book_id, chapter_id, instructions=instructions, max_tokens=max_tokens),
        slot,
    )


def on_critique(api: ApiClient, book_id: str, chapter_id: str) -> None:
    state = st.session_state
    focus = state.get("critique_focus", "").strip() or None
    max_tokens = state.get("critique_max_tokens")
    slot = f"critique:{chapter_id}"
    start_job(
        slot, lambda: api.critique(book_id, chapter_id, focus=focus, max_tokens=max_tokens), slot
    )


def suggestions_tool(api: ApiClient, book: Book, chapter: Chapter, t: Labels) -> None:
    slot = f"suggest:{chapter['id']}"
    show_flash(slot)
    st.text_area(t.t("instructions"), key="suggest_instructions", height=80)
    max_tokens_input("suggest_max_tokens", t)
    job_button(t.t("generate"), "generate", slot, on_suggest, (api, book["id"], chapter["id"]))
    job_panel(
        api, slot, t, show_outcome=lambda view: text_outcome(view, t, t.t("suggestions_ready"))
    )


def critique_tool(api: ApiClient, book: Book, chapter: Chapter, t: Labels) -> None:
    slot = f"critique:{chapter['id']}"
    show_flash(slot)
    st.caption(t.t("critique_help"))
    st.text_input(t.t("critique_focus"), key="critique_focus", max_chars=2000)
    max_tokens_input("critique_max_tokens", t)
    job_button(t.t("analyse"), "analyse", slot, on_critique, (api, book["id"], chapter["id"]))
    job_panel(api, slot, t, show_outcome=lambda view: text_outcome(view, t, t.t("critique_ready")))


def on_extract_metadata(api: ApiClient, book_id: str, chapter_id: str) -> None:
    slot = f"metadata:{chapter_id}"
    start_job(slot, lambda: api.extract_metadata(book_id, chapter_id), slot)


def metadata_tool(api: ApiClient, book: Book, chapter: Chapter, t: Labels) -> None:
    slot = f"metadata:{chapter['id']}"
    show_flash(slot)
    st.caption(t.t("metadata_help"))
    if chapter.get("summary"):
        st.markdown(f"**{t.t('chapter_summary')}**")
        st.write(chapter["summary"])
    job_button(
        t.t("extract_metadata"),
        "extract_metadata",
        slot,
        on_extract_metadata,
        (api, book["id"], chapter["id"]),
    )
    # The model writes JSON: the table appears once it is parsed.
    job_panel(api, slot, t, stream_text=False, show_outcome=lambda view: None)
    found = (outcome_of(slot) or {}).get("metadata") or chapter.get("metadata") or {}
    if found:
        metadata_table(found, t)


def outcome_of(slot: str) -> dict[str, Any] | None:
    view = outcome(slot)
    return view.result if view is not None and view.status == "succeeded" else None


def metadata_table(found: dict[str, Any], t: Labels) -> None:
    rows = []
    for field in ("genre", "tone", "pov", "characters", "places", "time_markers", "themes"):
        value = found.get(field)
        if value:
            shown_value = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            rows.append({t.t("col_field"): t.t(f"meta_{field}"), t.t("col_value"): shown_value})
    st.dataframe(rows, hide_index=True)


def text_outcome(view: JobView, t: Labels, headline: str) -> None:
    st.success(headline)
    st.markdown(view.shown_text)
    show_notes(view, t)
    citations = unique_citations((view.result or {}).get("citations") or [])
    if citations:
        st.caption(t.t("based_on", chapters="; ".join(citation_label(c, t) for c in citations)))


def artifacts_section(api: ApiClient, chapter: Chapter, t: Labels) -> None:
    artifacts = shown(lambda: api.list_artifacts(chapter_id=chapter["id"])) or []
    with st.expander(t.t("artifacts", count=len(artifacts))):
        if not artifacts:
            st.caption(t.t("no_artifacts"))
            return
        by_id = {a["id"]: a for a in artifacts}
        picked = st.selectbox(
            t.t("artifact_pick"),
            list(by_id),
            key="artifact_pick",
            format_func=lambda a: t.t(
                "artifact_option",
                kind=t.get(f"artifact_{by_id[a]['kind']}", by_id[a]["kind"]),
                when=by_id[a]["created_at"][:16].replace("T", " "),
            ),
        )
        if picked in by_id:
            st.markdown(by_id[picked]["text"])
