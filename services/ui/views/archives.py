"""Whole-book archives, deleting a book, restoring one from an archive, and the Trash
(Lixeira): the archive and delete on the Manuscript page, the Trash and restore in the sidebar
(reachable with no book at all)."""

from __future__ import annotations

import streamlit as st

from services.ui.api_client import NO_RESPONSE, ApiClient, ApiError, Book
from services.ui.i18n import Labels
from services.ui.session import adopt_job, flash, show_flash
from services.ui.views.editor import reset_editor

RESTORE_MODES = ("new", "as_new", "replace")


def _when(timestamp: str) -> str:
    """`2026-12-02T13:30:00+00:00` → `2026-12-02 13:30` (UTC)."""
    return timestamp[:16].replace("T", " ")


# ---------------------------------------------------------------------------------------------
# Manuscript page: the book's archive, and deleting the book
# ---------------------------------------------------------------------------------------------


def on_prepare_archive(api: ApiClient, book_id: str) -> None:
    try:
        st.session_state.archive_file = api.download_archive(book_id)
    except ApiError as exc:
        st.session_state.archive_file = None
        flash("archive", "error", exc.message)


def on_delete_book(api: ApiClient, book: Book, t: Labels) -> None:
    try:
        api.delete_book(book["id"], st.session_state.get("delete_book_confirm", ""))
    except ApiError as exc:
        flash("archive", "error", exc.message)
        return
    st.session_state.delete_book_confirm = ""
    st.session_state.archive_file = None
    reset_editor()
    flash("sidebar", "success", t.t("book_deleted", title=book["title"]))


def archive_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("book_archive"))
    st.caption(t.t("book_archive_help"))
    show_flash("archive")
    ready = st.session_state.get("archive_file")
    if ready is not None and not ready.name.endswith(f"-{book['id']}.copiloto.zip"):
        ready = None  # prepared for another book
    prepare, download = st.columns(2)
    prepare.button(
        t.t("prepare_archive"),
        key="prepare_archive",
        on_click=on_prepare_archive,
        args=(api, book["id"]),
        use_container_width=True,
    )
    if ready is not None:
        download.download_button(
            t.t("download_archive", name=ready.name),
            data=ready.data,
            file_name=ready.name,
            mime=ready.media_type,
            key="download_archive",
            type="primary",
            use_container_width=True,
        )
    with st.container(border=True):
        st.markdown(f"**{t.t('delete_book')}**")
        st.caption(t.t("delete_book_help", title=book["title"]))
        typed = st.text_input(t.t("type_to_confirm", word=book["title"]), key="delete_book_confirm")
        st.button(
            t.t("delete_book"),
            key="delete_book",
            disabled=typed.strip() != book["title"].strip(),
            on_click=on_delete_book,
            args=(api, book, t),
        )


# ---------------------------------------------------------------------------------------------
# Sidebar: the Trash, and restoring a book from an archive
# ---------------------------------------------------------------------------------------------


def on_restore_from_trash(api: ApiClient, book: Book, t: Labels) -> None:
    try:
        api.restore_from_trash(book["id"])
    except ApiError as exc:
        flash("trash", "error", exc.message)
        return
    st.session_state.book_id = book["id"]
    reset_editor()
    flash("trash", "success", t.t("trash_restored", title=book["title"]))


def on_purge(api: ApiClient, book: Book, t: Labels) -> None:
    try:
        api.purge_book(book["id"])
    except ApiError as exc:
        flash("trash", "error", exc.message)
        return
    flash("trash", "success", t.t("trash_purged", title=book["title"]))


def trash_panel(api: ApiClient, t: Labels) -> None:
    with st.expander(t.t("trash")):
        show_flash("trash")
        try:
            items = api.list_trash()
        except ApiError as exc:
            # An API that does not answer is already shown red under Services.
            if exc.status != NO_RESPONSE:
                st.error(exc.message)
            return
        if not items:
            st.caption(t.t("trash_empty"))
        for item in items:
            book = item["book"]
            st.markdown(
                t.t(
                    "trash_item",
                    title=book["title"],
                    deleted=_when(item["deleted_at"]),
                    purge=_when(item["purge_after"]),
                )
            )
            sure = st.checkbox(t.t("trash_purge_confirm"), key=f"purge_sure_{book['id']}")
            restore, purge = st.columns(2)
            restore.button(
                t.t("trash_restore"),
                key=f"trash_restore_{book['id']}",
                on_click=on_restore_from_trash,
                args=(api, book, t),
                use_container_width=True,
            )
            purge.button(
                t.t("trash_purge"),
                key=f"trash_purge_{book['id']}",
                disabled=not sure,
                on_click=on_purge,
                args=(api, book, t),
                use_container_width=True,
            )


def on_restore_archive(api: ApiClient, t: Labels) -> None:
    state = st.session_state
    uploaded = state.get("archive_upload")
    if uploaded is None:
        return
    mode = state.get("restore_mode", "new")
    confirm = state.get("restore_confirm", "") if mode == "replace" else None
    try:
        restored = api.restore_archive(
            uploaded.name, uploaded.getvalue(), mode=mode, confirm=confirm
        )
    except ApiError as exc:
        flash("restore", "error", exc.message)
        return
    state.book_id = restored["book_id"]
    state.page = "manuscript"
    reset_editor()
    if restored["reindex_job_id"]:
        # The Manuscript page's reindex tool shows the memory being rebuilt.
        adopt_job(f"reindex:{restored['book_id']}", restored["reindex_job_id"])
    flash(
        "sidebar",
        "success",
        t.t(
            "restored",
            title=restored["title"],
            chapters=restored["chapters"],
            revisions=restored["revisions"],
            artifacts=restored["artifacts"],
        ),
    )


def restore_panel(api: ApiClient, t: Labels) -> None:
    with st.expander(t.t("restore_archive")):
        show_flash("restore")
        st.file_uploader(t.t("archive_file"), type=["zip"], key="archive_upload")
        mode = st.radio(
            t.t("restore_mode"),
            RESTORE_MODES,
            key="restore_mode",
            format_func=lambda m: t.t(f"restore_mode_{m}"),
        )
        if mode == "replace":
            st.text_input(t.t("restore_confirm"), key="restore_confirm")
        st.button(
            t.t("restore_button"),
            key="restore_archive",
            disabled=st.session_state.get("archive_upload") is None,
            on_click=on_restore_archive,
            args=(api, t),
        )
