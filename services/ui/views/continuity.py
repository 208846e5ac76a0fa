"""Continuity: the audit of the whole book (a job with its progress bar), its findings grouped
by type and severity with both quotes side by side (each opens its chapter in the editor), and
the author's three marks."""

from __future__ import annotations

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Book, ContinuityCitation, ContinuityFinding
from services.ui.i18n import Labels
from services.ui.logic import JobView
from services.ui.session import (
    flash,
    job_button,
    job_panel,
    result_field,
    show_flash,
    start_job,
)
from services.ui.views.editor import open_at_quote

TYPES = ("fact", "timeline", "characterisation", "world_rule")
SEVERITIES = ("high", "medium", "low")
MARKS = ("fix", "ignore", "intentional")


def render(api: ApiClient, book: Book, t: Labels) -> None:
    st.caption(t.t("continuity_help"))
    slot = f"continuity:{book['id']}"
    show_flash(slot)
    st.toggle(t.t("continuity_force"), key="continuity_force")
    job_button(t.t("continuity_button"), "continuity_button", slot, on_audit, (api, book["id"]))
    job_panel(api, slot, t, stream_text=False, show_outcome=lambda view: outcome(view, t))
    findings_section(api, book, t)


def on_audit(api: ApiClient, book_id: str) -> None:
    force = bool(st.session_state.get("continuity_force"))
    slot = f"continuity:{book_id}"
    start_job(slot, lambda: api.continuity_check(book_id, force=force), slot)


def outcome(view: JobView, t: Labels) -> None:
    st.success(
        t.t(
            "continuity_done",
            findings=len(result_field(view, "findings") or []),
            candidates=result_field(view, "candidates") or 0,
            chapters=result_field(view, "chapters") or 0,
        )
    )


def on_mark(api: ApiClient, book_id: str, finding_id: str, status: str, done: str) -> None:
    try:
        api.mark_finding(book_id, finding_id, status)
    except ApiError as exc:
        flash("continuity_findings", "error", exc.message)
        return
    flash("continuity_findings", "success", done)


def on_open_citation(api: ApiClient, cite: ContinuityCitation) -> None:
    open_at_quote(api, cite["chapter_id"], cite["quote"], cite["start"])


def findings_section(api: ApiClient, book: Book, t: Labels) -> None:
    show_flash("continuity_findings")
    which = st.radio(
        t.t("continuity_show"),
        ("open", "all"),
        key="continuity_which",
        horizontal=True,
        format_func=lambda v: t.t(f"continuity_status_{v}"),
    )
    try:
        page = api.continuity_findings(book["id"], "open" if which == "open" else None)
    except ApiError as exc:
        st.error(exc.message)
        return
    if not page["items"]:
        st.info(t.t("continuity_none"))
    for kind in TYPES:
        group = [f for f in page["items"] if f["type"] == kind]
        if not group:
            continue
        st.subheader(f"{t.t('continuity_type_' + kind)} ({len(group)})")
        for severity in SEVERITIES:
            for finding in (f for f in group if f["severity"] == severity):
                finding_card(api, book, finding, t)
    if page["total"]:
        try:
            report = api.continuity_report(book["id"])
        except ApiError:
            return
        st.download_button(
            t.t("continuity_report"),
            report.encode("utf-8"),
            file_name="continuity.md",
            mime="text/markdown",
            key="continuity_report",
        )


def finding_card(api: ApiClient, book: Book, finding: ContinuityFinding, t: Labels) -> None:
    with st.container(border=True):
        severity = t.t(f"continuity_severity_{finding['severity']}")
        st.markdown(f"**[{severity}]** {finding['explanation']}")
        columns = st.columns(len(finding["citations"][:2]))
        for n, (column, cite) in enumerate(zip(columns, finding["citations"][:2], strict=True)):
            column.caption(
                t.t(
                    "continuity_chapter",
                    position=cite["chapter_position"],
                    title=cite["chapter_title"],
                )
            )
            column.markdown("> " + " ".join(cite["quote"].split()))
            column.button(
                t.t("continuity_open"),
                key=f"continuity_open:{finding['id']}:{n}",
                on_click=on_open_citation,
                args=(api, cite),
            )
        marks = st.columns(len(MARKS))
        for column, mark in zip(marks, MARKS, strict=True):
            label = t.t(f"continuity_mark_{mark}")
            column.button(
                label,
                key=f"mark:{finding['id']}:{mark}",
                disabled=finding["status"] == mark,
                on_click=on_mark,
                args=(api, book["id"], finding["id"], mark, t.t("continuity_marked", status=label)),
            )
