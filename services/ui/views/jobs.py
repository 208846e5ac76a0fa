"""Jobs: this book's history with progress, cancel, and each finished job's result and receipt."""

from __future__ import annotations

import json

import streamlit as st

from services.ui.api_client import TERMINAL_STATUSES, ApiClient, Book, Job
from services.ui.i18n import Labels
from services.ui.logic import (
    job_line,
    kind_label,
    progress_fraction,
    receipt_rows,
    result_warnings,
    status_label,
    translate_message,
)
from services.ui.session import cancel_job, show_flash, shown

PAGE_SIZE = 20
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
KINDS = (
    "suggest",
    "critique",
    "ask",
    "ideate",
    "expand",
    "extract_metadata",
    "import_manuscript",
    "reindex_book",
    "index_chapter",
    "summarize_chapter",
    "extract_facts",
    "build_bible",
)
# The list refreshes itself while the page is open, so running jobs move without a click.
REFRESH_EVERY_S = 2.0


def render(api: ApiClient, book: Book, t: Labels) -> None:
    show_flash("jobs")
    status, kind = st.columns(2)
    status.selectbox(
        t.t("filter_status"),
        ("", *STATUSES),
        key="jobs_status",
        format_func=lambda s: status_label(s, t) if s else t.t("filter_all"),
    )
    kind.selectbox(
        t.t("filter_kind"),
        ("", *KINDS),
        key="jobs_kind",
        format_func=lambda k: kind_label(k, t) if k else t.t("filter_all"),
    )
    jobs_list(api, book["id"], t)


@st.fragment(run_every=REFRESH_EVERY_S)
def jobs_list(api: ApiClient, book_id: str, t: Labels) -> None:
    state = st.session_state
    page = int(state.get("jobs_page", 1))
    found = shown(
        lambda: api.list_jobs(
            book_id=book_id,
            status=state.get("jobs_status") or None,
            kind=state.get("jobs_kind") or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    )
    if found is None:
        return
    if not found["items"]:
        st.info(t.t("no_jobs"))
        return
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    st.caption(t.t("jobs_total", total=found["total"]))
    for job in found["items"]:
        job_card(api, job, t)
    if pages > 1:
        st.number_input(
            t.t("jobs_page", pages=pages), min_value=1, max_value=pages, key="jobs_page"
        )


def job_card(api: ApiClient, job: Job, t: Labels) -> None:
    with st.container(border=True):
        line, action = st.columns([6, 1], vertical_alignment="center")
        line.markdown(f"**{job_line(job, t)}**")
        message = translate_message(job["message"], t.language)
        line.progress(progress_fraction(job["progress"]), text=message or None)
        if job["error"]:
            line.error(job["error"])
        if job["status"] not in TERMINAL_STATUSES:
            action.button(
                t.t("cancel"),
                key=f"cancel_{job['id']}",
                on_click=cancel_job,
                args=(api, job["id"], "jobs"),
            )
        if job["status"] == "succeeded" and job["result"]:
            with st.expander(t.t("job_result")):
                job_result(job, t)


def job_result(job: Job, t: Labels) -> None:
    result = job["result"] or {}
    for warning in result_warnings(result, t):
        st.warning(warning)
    text = result.get("text") or result.get("answer")
    if isinstance(text, str) and text.strip():
        st.markdown(text)
    else:
        shown_result = {k: v for k, v in result.items() if k != "receipt"}
        st.code(json.dumps(shown_result, ensure_ascii=False, indent=2), language="json")
    receipt = receipt_rows(result)
    if receipt:
        st.markdown(f"**{t.t('receipt')}**")
        passages = receipt.get("passages") or []
        st.caption(
            t.t(
                "receipt_line",
                model=receipt.get("model") or "—",
                prompt=receipt.get("prompt_tokens") or "—",
                completion=receipt.get("completion_tokens") or "—",
                passages=len(passages),
            )
        )
        st.json(receipt, expanded=False)
