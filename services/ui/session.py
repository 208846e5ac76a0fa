"""What every page shares: the API client, messages across reruns, and the jobs it follows.

A long action is a job the page follows in a *slot* ("suggest:<chapter>", "ask:<book>", …): the
slot remembers the job while it runs and its outcome afterwards, so an author can leave the page,
come back, and find the result where it was asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from services.ui.api_client import ApiClient, ApiError, Job, Readiness
from services.ui.follower import JobEventFollower
from services.ui.i18n import Labels
from services.ui.logic import (
    JobView,
    apply_event,
    progress_fraction,
    result_warnings,
    translate_message,
    view_from_job,
)
from services.ui.settings import UiSettings

T = TypeVar("T")

# A followed job is redrawn at this pace, without rerunning the rest of the page.
REDRAW_EVERY_S = 0.3
READINESS_TTL_S = 15.0
READINESS_TTL_NOT_READY_S = 3.0


def ui_settings() -> UiSettings:
    """The UI's settings (API_URL, API_TOKEN, UI_LANGUAGE, timeouts), read once per session."""
    if "ui_settings" not in st.session_state:
        st.session_state.ui_settings = UiSettings()
    settings: UiSettings = st.session_state.ui_settings
    return settings


def session_api() -> ApiClient:
    """One client per browser session, built from the UI's settings once."""
    if "api" not in st.session_state:
        st.session_state.api = ApiClient.from_settings(ui_settings())
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
        {"success": st.success, "error": st.error, "info": st.info, "warning": st.warning}[kind](
            message
        )
        pending.remove(entry)


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
# Jobs followed in slots
# ---------------------------------------------------------------------------------------------


def _slots() -> dict[str, str]:
    slots: dict[str, str] = st.session_state.setdefault("active_jobs", {})
    return slots


def _outcomes() -> dict[str, JobView]:
    outcomes: dict[str, JobView] = st.session_state.setdefault("outcomes", {})
    return outcomes


def start_job(slot: str, submit: Callable[[], Job], area: str) -> Job | None:
    """Submit a job and follow it in `slot`; a refusal is flashed in `area`."""
    try:
        job = submit()
    except ApiError as exc:
        flash(area, "error", exc.message)
        return None
    _slots()[slot] = job["id"]
    _outcomes().pop(slot, None)
    return job


def adopt_job(slot: str, job_id: str) -> None:
    """Follow a job another job started (an import's reindex) in `slot`, once."""
    adopted: set[str] = st.session_state.setdefault("adopted_jobs", set())
    if job_id in adopted:
        return
    adopted.add(job_id)
    _slots()[slot] = job_id
    _outcomes().pop(slot, None)


def slot_busy(slot: str) -> bool:
    return slot in _slots()


def job_button(
    label: str, key: str, slot: str, on_click: Callable[..., None], args: tuple[Any, ...]
) -> None:
    """The button that starts the slot's job; disabled while that job runs."""
    st.button(
        label, key=key, type="primary", disabled=slot_busy(slot), on_click=on_click, args=args
    )


def outcome(slot: str) -> JobView | None:
    return _outcomes().get(slot)


def job_panel(
    api: ApiClient,
    slot: str,
    t: Labels,
    *,
    stream_text: bool = True,
    show_outcome: Callable[[JobView], None],
) -> None:
    """The slot's running job (progress bar, streamed text, cancel) or its outcome."""
    job_id = _slots().get(slot)
    if job_id is not None:
        _follow(api, slot, job_id, t, stream_text)
        return
    view = _outcomes().get(slot)
    if view is None:
        return
    if view.status == "succeeded":
        st.progress(1.0, text=translate_message("Done", t.language))
        for warning in result_warnings(view.result, t):
            st.warning(warning)
        show_outcome(view)
    elif view.status == "failed":
        st.error(t.t("job_failed", error=view.error or translate_message(view.message, t.language)))
    elif view.status == "cancelled":
        st.warning(t.t("job_cancelled"))


@st.fragment(run_every=REDRAW_EVERY_S)
def _follow(api: ApiClient, slot: str, job_id: str, t: Labels, stream_text: bool) -> None:
    """Redrawn on its own every few hundred ms until the job ends; then the page reruns once."""
    state = st.session_state
    followers: dict[str, JobEventFollower] = state.setdefault("followers", {})
    views: dict[str, JobView] = state.setdefault("job_views", {})
    view = views.get(job_id) or JobView(job_id)
    follower = followers.get(job_id)
    if follower is None:
        last = view.last_event_id
        follower = followers[job_id] = JobEventFollower(
            lambda: api.job_events(job_id, last_event_id=last)
        ).start()
    for event in follower.take(0.05):
        view = apply_event(view, event)
    if follower.ended.is_set() and not view.finished:
        # The stream broke off: the row says where the job is, a new stream resumes after
        # the last event seen (no text is repeated).
        followers.pop(job_id, None)
        try:
            view = view_from_job(view, api.get_job(job_id))
        except ApiError as exc:
            st.error(exc.message)
    views[job_id] = view
    if view.finished:
        follower.stop()
        followers.pop(job_id, None)
        views.pop(job_id, None)
        _slots().pop(slot, None)
        _outcomes()[slot] = view
        st.rerun()  # the whole page: the outcome, the jobs list and the artifacts change
    message = translate_message(view.message, t.language) or t.t("job_queued")
    bar, cancel = st.columns([6, 1], vertical_alignment="center")
    bar.progress(progress_fraction(view.progress), text=message)
    cancel.button(
        t.t("cancel"),
        key=f"cancel_{slot}",
        on_click=cancel_job,
        args=(api, job_id, "jobs"),
        type="tertiary",
    )
    if stream_text and view.text:
        st.markdown(view.text)


def cancel_job(api: ApiClient, job_id: str, area: str) -> None:
    try:
        api.cancel_job(job_id)
    except ApiError as exc:
        flash(area, "error", exc.message)


def result_field(view: JobView, name: str) -> Any:
    return (view.result or {}).get(name)


def show_notes(view: JobView, t: Labels) -> None:
    """The notes a result carries (memory unavailable or empty, a cut answer …), in the UI's
    language: every writing result shows them the same way."""
    for note in result_field(view, "notes") or []:
        st.caption(f"ℹ️ {translate_message(str(note), t.language)}")


def max_tokens_input(key: str, t: Labels) -> int | None:
    """How long the answer may be; empty leaves it to the server's default."""
    value = st.number_input(
        t.t("max_tokens"),
        key=key,
        value=None,
        min_value=16,
        max_value=8192,
        step=64,
        placeholder=t.t("max_tokens_default"),
    )
    return int(value) if value is not None else None
