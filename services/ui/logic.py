"""The UI's plain logic: formatting, job state, diffs, citations — no Streamlit, tested directly."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from services.ui.api_client import TERMINAL_STATUSES, Book, Chapter, Job, JobEvent, Readiness
from services.ui.i18n import JOB_MESSAGES, Labels

SERVICES = ("api", "database", "redis", "worker", "llm", "chroma")


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


def queued_jobs(readiness: Readiness | None) -> tuple[int, float | None]:
    """Jobs waiting for a worker across the queues, and the oldest one's wait in seconds."""
    backlog = readiness.get("backlog") if readiness is not None else None
    if not backlog:
        return 0, None
    ages = [age for q in backlog["queues"].values() if (age := q.get("oldest_age_s")) is not None]
    return int(backlog.get("queued", 0)), max(ages) if ages else None


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


def word_count(text: str) -> int:
    """Counted as the API counts (whitespace-separated words)."""
    return len(text.split())


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


def kind_label(kind: str, t: Labels) -> str:
    return t.get(f"kind_{kind}", kind)


def job_line(job: Job, t: Labels) -> str:
    return t.t(
        "job_line",
        kind=kind_label(job["kind"], t),
        status=status_label(job["status"], t),
        duration=format_duration(job.get("duration_s"), t.t("duration_none")),
    )


_SLOT = "{n}"


@lru_cache(maxsize=8)
def _message_patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """The language's phrases as patterns, fixed phrases first so they win over `Reading {n}`."""
    table = JOB_MESSAGES.get(language, {})
    ordered = sorted(table.items(), key=lambda item: _SLOT in item[0])
    return tuple(
        (re.compile(re.escape(english).replace(re.escape(_SLOT), "(.+?)")), local)
        for english, local in ordered
    )


def _translate_phrase(phrase: str, patterns: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    for pattern, local in patterns:
        match = pattern.fullmatch(phrase)
        if match:
            out = local
            for value in match.groups():
                out = out.replace(_SLOT, value, 1)
            return out
    return None


def translate_message(message: str, language: str) -> str:
    """A worker's progress message in the UI's language.

    Workers report in English (one log language for operators); the UI knows their phrases,
    with `{n}` standing for a number or a name. A message built from parts ("Generating ideas,
    repairing the JSON (7 tokens)") is translated part by part. An unknown phrase is shown as
    it came rather than hidden.
    """
    patterns = _message_patterns(language)
    if not patterns or not message:
        return message
    whole = _translate_phrase(message, patterns)
    if whole is not None:
        return whole
    parts = []
    for part in message.split(", "):
        head, paren, tail = part.partition(" (")
        translated = _translate_phrase(head, patterns) or head
        if paren:
            inner = tail.removesuffix(")")
            translated += f" ({_translate_phrase(inner, patterns) or inner})"
        parts.append(translated)
    return ", ".join(parts)


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
    last_event_id: str | None = None

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
    if event.id:
        view = replace(view, last_event_id=event.id)
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


def revision_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff by line, the form authors know from track-changes views."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_name, tofile=new_name, lineterm=""
    )
    return "\n".join(lines)


def citation_label(citation: dict[str, Any], t: Labels) -> str:
    return t.t(
        "citation_label",
        position=citation.get("position") or "?",
        title=citation.get("title") or "",
    )


def unique_citations(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per cited chapter (several passages may come from one), in retrieval order."""
    seen: set[str] = set()
    out = []
    for citation in citations:
        chapter_id = str(citation.get("chapter_id") or "")
        if chapter_id and chapter_id not in seen:
            seen.add(chapter_id)
            out.append(citation)
    return out


def excerpt(text: str, limit: int = 240) -> str:
    """The start of a passage, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$"


def _escape_markdown(text: str) -> str:
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in text)


def highlighted(text: str, spans: list[list[int]] | list[tuple[int, int]]) -> str:
    """Markdown of a passage with the words that matched the search in bold (the rest
    escaped, so a passage's own asterisks or brackets stay text)."""
    out: list[str] = []
    at = 0
    for start, end in sorted((int(a), int(b)) for a, b in spans):
        if start < at or end > len(text):
            continue
        out.append(_escape_markdown(text[at:start]))
        out.append(f"**{_escape_markdown(text[start:end])}**")
        at = end
    out.append(_escape_markdown(text[at:]))
    return " ".join("".join(out).split())


def quote_context(text: str, quote: str, start: int | None = None, margin: int = 300) -> str | None:
    """Markdown of the text around a quote, the quote in bold: where a bible fact or an audit
    citation sits in its chapter. The quote is looked for at `start` first (its offsets in
    the revision it came from), then anywhere; None when the text no longer holds it."""
    quote = quote.strip()
    if not quote:
        return None
    if start is not None and text[start : start + len(quote)] == quote:
        at = start
    else:
        at = text.find(quote)
        if at < 0:
            return None
    end = at + len(quote)
    # From the start of the quote's paragraph when it is near, else `margin` characters.
    paragraph = text.rfind("\n\n", 0, at)
    lo = paragraph + 2 if paragraph >= 0 and at - paragraph <= margin else max(0, at - margin)
    hi = min(len(text), end + margin)
    body = highlighted(text[lo:hi], [(at - lo, end - lo)])
    return ("… " if lo > 0 else "") + body + (" …" if hi < len(text) else "")


def receipt_rows(result: dict[str, Any] | None) -> dict[str, Any]:
    """The receipt of a finished job: model, tokens, timings and the passages it read."""
    if not result:
        return {}
    receipt = result.get("receipt")
    return dict(receipt) if isinstance(receipt, dict) else {}


def result_warnings(result: dict[str, Any] | None, t: Labels) -> list[str]:
    """Warnings of a finished job in the UI's language (e.g. the loop guard cut a repeating
    answer); an unknown warning is shown as the API wrote it."""
    shown: list[str] = []
    for warning in (result or {}).get("warnings") or []:
        if not isinstance(warning, dict):
            continue
        code = str(warning.get("code") or "")
        shown.append(t.get(f"{code}_warning", str(warning.get("message") or code)))
    return shown
