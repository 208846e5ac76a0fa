"""Manuscript: upload a book file, preview its split, import it, reindex the book, export it."""

from __future__ import annotations

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Book, ManuscriptPreview
from services.ui.i18n import Labels
from services.ui.logic import JobView, excerpt
from services.ui.session import (
    adopt_job,
    flash,
    job_button,
    job_panel,
    result_field,
    show_flash,
    slot_busy,
    start_job,
)
from services.ui.views.archives import archive_section

FILE_TYPES = ["md", "markdown", "txt", "docx", "epub"]
EXPORT_FORMATS = ("md", "docx", "epub")


def render(api: ApiClient, book: Book, t: Labels) -> None:
    import_section(api, book, t)
    st.divider()
    reindex_tool(api, book, t)
    st.divider()
    export_section(api, book, t)
    st.divider()
    archive_section(api, book, t)


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def _upload() -> tuple[str, bytes] | None:
    uploaded = st.session_state.get("manuscript_file")
    if uploaded is None:
        return None
    return uploaded.name, uploaded.getvalue()


def on_preview(api: ApiClient, book_id: str) -> None:
    upload = _upload()
    if upload is None:
        return
    try:
        split = api.preview_manuscript(book_id, *upload)
    except ApiError as exc:
        st.session_state.manuscript_preview = None
        flash("manuscript", "error", exc.message)
        return
    st.session_state.manuscript_preview = split


def on_import(api: ApiClient, book_id: str) -> None:
    upload = _upload()
    if upload is None:
        return
    reindex = bool(st.session_state.get("manuscript_reindex", True))
    slot = f"import:{book_id}"
    if start_job(slot, lambda: api.import_manuscript(book_id, *upload, reindex=reindex), slot):
        st.session_state.manuscript_preview = None


def import_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("import_manuscript"))
    st.caption(t.t("import_help"))
    show_flash("manuscript")
    slot = f"import:{book['id']}"
    show_flash(slot)
    st.file_uploader(
        t.t("manuscript_file"),
        type=FILE_TYPES,
        key="manuscript_file",
        on_change=lambda: st.session_state.update(manuscript_preview=None),
    )
    has_file = st.session_state.get("manuscript_file") is not None
    st.toggle(t.t("manuscript_reindex"), key="manuscript_reindex", value=True)
    preview_button, import_button = st.columns(2)
    preview_button.button(
        t.t("preview_split"),
        key="preview_split",
        disabled=not has_file,
        on_click=on_preview,
        args=(api, book["id"]),
        use_container_width=True,
    )
    import_button.button(
        t.t("import_button"),
        key="import_manuscript",
        type="primary",
        disabled=not has_file or slot_busy(slot),
        on_click=on_import,
        args=(api, book["id"]),
        use_container_width=True,
    )
    split: ManuscriptPreview | None = st.session_state.get("manuscript_preview")
    if split is not None and has_file:
        show_preview(split, t)
    job_panel(
        api,
        slot,
        t,
        stream_text=False,
        show_outcome=lambda view: import_outcome(view, book["id"], t),
    )


def show_preview(split: ManuscriptPreview, t: Labels) -> None:
    st.markdown(
        t.t(
            "split_summary",
            chapters=split["total_chapters"],
            words=split["total_words"],
            how=t.get(f"split_{split['split']}", split["split"]),
        )
    )
    if split["already_imported"]:
        st.info(t.t("already_imported"))
    if split["front_matter"].strip():
        with st.expander(t.t("front_matter")):
            st.text(excerpt(split["front_matter"], 1200))
    st.dataframe(
        [
            {
                t.t("col_position"): c["index"],
                t.t("col_title"): c["title"],
                t.t("col_words"): c["word_count"],
                t.t("col_text"): c["preview"],
            }
            for c in split["chapters"]
        ],
        hide_index=True,
    )


def import_outcome(view: JobView, book_id: str, t: Labels) -> None:
    created = int(result_field(view, "created") or 0)
    existing = int(result_field(view, "existing") or 0)
    if created:
        st.success(t.t("imported", created=created, words=result_field(view, "words") or 0))
    else:
        st.info(t.t("imported_nothing_new", existing=existing))
    reindex_job_id = result_field(view, "reindex_job_id")
    if reindex_job_id:
        st.caption(t.t("import_reindex_queued"))
        # The reindex tool below shows that job's progress bar.
        adopt_job(f"reindex:{book_id}", str(reindex_job_id))


# ---------------------------------------------------------------------------------------------
# Reindex (also on the Memory page)
# ---------------------------------------------------------------------------------------------


def on_reindex(api: ApiClient, book_id: str) -> None:
    state = st.session_state
    slot = f"reindex:{book_id}"
    force = bool(state.get("reindex_force"))
    summarize = bool(state.get("reindex_summarize"))
    start_job(slot, lambda: api.reindex_book(book_id, force=force, summarize=summarize), slot)


def reindex_tool(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("reindex_book"))
    st.caption(t.t("reindex_help"))
    slot = f"reindex:{book['id']}"
    show_flash(slot)
    force, summarize = st.columns(2)
    force.toggle(t.t("reindex_force"), key="reindex_force")
    summarize.toggle(t.t("reindex_summarize"), key="reindex_summarize", help=t.t("summarize_help"))
    job_button(t.t("reindex_button"), "reindex_book", slot, on_reindex, (api, book["id"]))
    job_panel(api, slot, t, stream_text=False, show_outcome=lambda view: reindex_outcome(view, t))


def reindex_outcome(view: JobView, t: Labels) -> None:
    st.success(
        t.t(
            "reindex_done",
            total=result_field(view, "total") or 0,
            indexed=result_field(view, "indexed") or 0,
            skipped=result_field(view, "skipped") or 0,
        )
    )
    if result_field(view, "summaries_queued"):
        st.caption(t.t("summaries_queued", count=result_field(view, "summaries_queued")))


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def on_prepare_export(api: ApiClient, book_id: str) -> None:
    fmt = st.session_state.get("export_format", "md")
    try:
        st.session_state.export_file = api.export_book(book_id, fmt)
    except ApiError as exc:
        st.session_state.export_file = None
        flash("export", "error", exc.message)


def export_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("export_book"))
    show_flash("export")
    pick, prepare = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox(
        t.t("export_format"),
        EXPORT_FORMATS,
        key="export_format",
        format_func=lambda f: t.t(f"format_{f}"),
        on_change=lambda: st.session_state.update(export_file=None),
    )
    prepare.button(
        t.t("prepare_export"),
        key="prepare_export",
        on_click=on_prepare_export,
        args=(api, book["id"]),
        use_container_width=True,
    )
    ready = st.session_state.get("export_file")
    if ready is not None:
        st.download_button(
            t.t("download_export", name=ready.name),
            data=ready.data,
            file_name=ready.name,
            mime=ready.media_type,
            key="download_export",
            type="primary",
        )
