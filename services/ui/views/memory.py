"""Memory: what the copilot remembers of each book (Chroma), reindexing and clearing it."""

from __future__ import annotations

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Book, BookSearch, Collection, MemoryStatus
from services.ui.i18n import Labels
from services.ui.logic import excerpt, highlighted
from services.ui.session import flash, show_flash, shown
from services.ui.views.editor import open_with_focus
from services.ui.views.manuscript import reindex_tool

PAGE_SIZE = 20
# The API's own confirmation word for wiping every book's memory.
CLEAR_ALL_WORD = "DELETE-ALL-MEMORY"


SEARCH_RESULTS = 10


def render(api: ApiClient, book: Book, t: Labels) -> None:
    show_flash("memory")
    search_section(api, book, t)
    status = status_section(api, t)
    prefix = f"{status['collection_prefix']}-" if status else ""
    collections = collections_section(api, prefix, t)
    model = status["embedding_model"] if status else None
    documents_section(api, book, current_collection(collections, book["id"], model), t)
    actions_section(api, book, t)


def on_open_passage(api: ApiClient, chapter_id: str, passage: str) -> None:
    """A search result opens its chapter in the editor, the passage shown above the text."""
    open_with_focus(api, chapter_id, passage=passage)


def search_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("search_book"))
    with st.form("book_search"):
        st.text_input(t.t("search_query"), key="search_query", placeholder=t.t("search_hint"))
        st.form_submit_button(t.t("search_button"), key="search_button")
    query = str(st.session_state.get("search_query") or "").strip()
    if not query:
        return
    try:
        found: BookSearch = api.search_book(book["id"], query, SEARCH_RESULTS)
    except ApiError as exc:
        st.error(exc.message)
        return
    if not found["indexed"]:
        st.info(t.t("search_not_indexed"))
        return
    if found["rebuilding"]:
        st.caption(t.t("search_rebuilding"))
    if not found["results"]:
        st.info(t.t("search_nothing"))
        return
    st.caption(t.t("search_found", n=len(found["results"]), ms=round(found["took_ms"])))
    for n, hit in enumerate(found["results"]):
        with st.container(border=True):
            where = t.t(
                "search_where",
                position=hit["chapter_position"],
                title=hit["chapter_title"],
                passage=(hit["passage_index"] or 0) + 1,
            )
            how = t.t(f"found_{hit['found_by']}")
            st.markdown(f"**{where}** · {how}")
            st.markdown(highlighted(hit["text"], hit["highlights"]))
            st.button(
                t.t("open_in_editor"),
                key=f"search_open_{n}",
                on_click=on_open_passage,
                args=(api, hit["chapter_id"], hit["text"]),
            )


def status_section(api: ApiClient, t: Labels) -> MemoryStatus | None:
    st.subheader(t.t("memory_status"))
    status = shown(api.memory_status)
    if status is None:
        return None
    where = status["mode"] if not status["host"] else f"{status['host']}:{status['port']}"
    state, mode, documents = st.columns(3)
    state.metric(t.t("memory_state"), t.get(f"state_{status['state']}", status["state"]))
    mode.metric(t.t("memory_mode"), t.get(f"memory_mode_{status['mode']}", status["mode"]))
    documents.metric(t.t("memory_documents"), _or_dash(status.get("documents")))
    st.caption(t.t("memory_where", where=where, model=status["embedding_model"]))
    if not status["ok"]:
        st.error(status["detail"])
    return status


def current_collection(
    collections: list[Collection], book_id: str, model: str | None
) -> Collection | None:
    """The book's collection of the current embedding model (an older model's may still be
    there while the book is being rebuilt)."""
    for c in collections:
        meta = c.get("metadata") or {}
        if meta.get("book_id") == book_id and meta.get("embedding_model") == model:
            return c
    return None


def collections_section(api: ApiClient, prefix: str, t: Labels) -> list[Collection]:
    st.subheader(t.t("memory_collections"))
    collections = shown(api.memory_collections)
    if collections is None:
        return []
    if not collections:
        st.info(t.t("memory_empty"))
        return []
    books = {b["id"]: b["title"] for b in shown(lambda: api.list_books(limit=500)) or []}
    st.dataframe(
        [
            {
                t.t("col_collection"): c["name"],
                t.t("col_book"): books.get(c["name"].removeprefix(prefix).split(".")[0], "?"),
                t.t("col_model"): (c.get("metadata") or {}).get("embedding_model", "?"),
                t.t("col_documents"): c["count"],
            }
            for c in collections
        ],
        hide_index=True,
    )
    return collections


def documents_section(api: ApiClient, book: Book, collection: Collection | None, t: Labels) -> None:
    st.subheader(t.t("memory_of_book", title=book["title"]))
    chapters = shown(lambda: api.list_chapters(book["id"])) or []
    behind = sum(1 for c in chapters if not c.get("in_memory", True))
    if behind:
        st.warning(t.t("memory_behind", n=behind, total=len(chapters)))
    if collection is None:
        st.info(t.t("memory_book_empty"))
        return
    name = collection["name"]
    pages = max(1, -(-collection["count"] // PAGE_SIZE))
    page = st.number_input(
        t.t("memory_page", pages=pages), min_value=1, max_value=pages, value=1, key="memory_page"
    )
    found = shown(
        lambda: api.memory_documents(name, limit=PAGE_SIZE, offset=(int(page) - 1) * PAGE_SIZE)
    )
    if found is None:
        return
    st.caption(t.t("memory_showing", shown=len(found["items"]), total=found["total"]))
    st.dataframe(
        [
            {
                t.t("col_position"): d["metadata"].get("position"),
                t.t("col_title"): d["metadata"].get("title"),
                t.t("col_kind"): t.get(
                    f"doc_{d['metadata'].get('kind')}", str(d["metadata"].get("kind"))
                ),
                t.t("col_text"): excerpt(d["text"], 160),
            }
            for d in found["items"]
        ],
        hide_index=True,
    )


def on_clear_book(api: ApiClient, book: Book, t: Labels) -> None:
    try:
        answer = api.clear_book_memory(book["id"])
    except ApiError as exc:
        flash("memory", "error", exc.message)
        return
    st.session_state.clear_book_confirm = ""
    flash("memory", "success", t.t("memory_cleared_book", count=answer.get("deleted", 0)))


def on_clear_all(api: ApiClient, t: Labels) -> None:
    try:
        answer = api.clear_all_memory(st.session_state.get("clear_all_confirm", ""))
    except ApiError as exc:
        flash("memory", "error", exc.message)
        return
    st.session_state.clear_all_confirm = ""
    flash("memory", "success", t.t("memory_cleared_all", count=answer.get("deleted", 0)))


def actions_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("memory_actions"))
    with st.container(border=True):
        reindex_tool(api, book, t)
    with st.container(border=True):
        st.markdown(f"**{t.t('clear_book')}**")
        st.caption(t.t("clear_book_help", title=book["title"]))
        typed = st.text_input(t.t("type_to_confirm", word=book["title"]), key="clear_book_confirm")
        st.button(
            t.t("clear_book"),
            key="clear_book",
            disabled=typed.strip() != book["title"].strip(),
            on_click=on_clear_book,
            args=(api, book, t),
        )
    with st.container(border=True):
        st.markdown(f"**{t.t('clear_all')}**")
        st.caption(t.t("clear_all_help"))
        typed_all = st.text_input(
            t.t("type_to_confirm", word=CLEAR_ALL_WORD), key="clear_all_confirm"
        )
        st.button(
            t.t("clear_all"),
            key="clear_all",
            type="primary",
            disabled=typed_all.strip() != CLEAR_ALL_WORD,
            on_click=on_clear_all,
            args=(api, t),
        )


def _or_dash(value: int | None) -> int | str:
    return "—" if value is None else value
