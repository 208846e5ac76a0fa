"""The UI's plain logic: job state from events, formatting, diffs, citations, translations."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

from services.ui.api_client import ApiError, JobEvent
from services.ui.follower import JobEventFollower
from services.ui.i18n import JOB_MESSAGES, LABELS, labels
from services.ui.logic import (
    JobView,
    ServiceState,
    apply_event,
    excerpt,
    format_duration,
    progress_fraction,
    queued_jobs,
    quote_context,
    readiness_rows,
    revision_diff,
    save_mode,
    translate_message,
    unique_citations,
    view_from_job,
    word_count,
)

UI = Path(__file__).resolve().parents[2] / "services" / "ui"


def test_job_view_follows_a_stream_with_a_retry() -> None:
    events = [
        JobEvent("status", {"status": "queued", "progress": 0.0, "message": ""}, "1-0"),
        JobEvent("progress", {"progress": 0.05, "message": "Generating suggestions"}, "2-0"),
        JobEvent("delta", {"text": "Ana"}, "3-0"),
        JobEvent("reset", {"message": "retrying"}, "4-0"),
        JobEvent("delta", {"text": "Ana "}, "5-0"),
        JobEvent("delta", {"text": "partiu."}, "6-0"),
        JobEvent("progress", {"progress": 0.01, "message": "late and stale"}, "7-0"),
        JobEvent("comment", {"text": "keep-alive"}),
    ]
    view = JobView("j1")
    for event in events:
        view = apply_event(view, event)
    assert (view.status, view.progress, view.text) == ("queued", 0.05, "Ana partiu.")
    assert view.message == "late and stale"
    # A reconnect resumes after the last event that carried an id (comments carry none).
    assert view.last_event_id == "7-0"
    assert not view.finished
    assert view.shown_text == "Ana partiu."

    final = apply_event(
        view,
        JobEvent(
            "final",
            {"status": "succeeded", "progress": 1.0, "message": "done", "result": {"text": "X"}},
        ),
    )
    assert final.finished
    assert (final.progress, final.shown_text, final.text) == (1.0, "X", "Ana partiu.")


def test_a_polled_failed_job_keeps_its_error() -> None:
    polled = {"status": "failed", "progress": 0.4, "message": "", "result": None, "error": "boom"}
    view = view_from_job(JobView("j1", progress=0.5, message="Generating"), polled)  # type: ignore[arg-type]
    assert (view.status, view.progress, view.message, view.error) == (
        "failed",
        0.5,
        "Generating",
        "boom",
    )
    assert view.finished


def test_follower_hands_over_events_and_errors() -> None:
    def stream() -> Generator[JobEvent, None, None]:
        yield JobEvent("status", {"status": "running"})
        yield JobEvent("final", {"status": "succeeded"})
        yield JobEvent("delta", {"text": "never read"})

    follower = JobEventFollower(stream).start()
    assert follower.ended.wait(5)
    taken = follower.take(0.1)
    assert [e.event for e in taken] == ["status", "final"]
    assert follower.error is None

    def broken() -> Generator[JobEvent, None, None]:
        yield JobEvent("status", {"status": "running"})
        raise ApiError(0, "lost the event stream")

    follower = JobEventFollower(broken).start()
    assert follower.ended.wait(5)
    assert [e.event for e in follower.take(0.1)] == ["status"]
    assert follower.error is not None and follower.error.status == 0


def test_follower_take_waits_only_as_long_as_asked() -> None:
    def quiet() -> Generator[JobEvent, None, None]:
        time.sleep(2)
        yield JobEvent("final", {})

    follower = JobEventFollower(quiet).start()
    started = time.monotonic()
    assert follower.take(0.2) == []
    assert time.monotonic() - started < 1.0
    follower.stop()


def test_readiness_rows() -> None:
    assert readiness_rows(None, "cannot reach the API") == [
        ServiceState("api", "down", "cannot reach the API"),
        ServiceState("database", "unknown"),
        ServiceState("redis", "unknown"),
        ServiceState("worker", "unknown"),
        ServiceState("llm", "unknown"),
        ServiceState("chroma", "unknown"),
    ]
    answer = {
        "ready": False,
        "checks": {
            "database": {"state": "up", "detail": "sqlite", "ok": True},
            "llm": {"state": "loading", "detail": "loading its model", "ok": False},
        },
    }
    rows = readiness_rows(answer)  # type: ignore[arg-type]
    assert [(r.name, r.state) for r in rows] == [
        ("api", "up"),
        ("database", "up"),
        ("redis", "unknown"),
        ("worker", "unknown"),
        ("llm", "loading"),
        ("chroma", "unknown"),
    ]


def test_formatting() -> None:
    assert format_duration(None) == "—"
    assert format_duration(0.84) == "0.8 s"
    assert format_duration(75.2) == "1 min 15 s"
    assert [progress_fraction(v) for v in (None, -0.5, 0.25, 3.0)] == [0.0, 0.0, 0.25, 1.0]
    assert word_count("  Ana  partiu.\n\nO mar ficou. ") == 5
    assert excerpt("a  b\nc", 10) == "a b c"
    assert excerpt("uma frase longa demais para caber", 14) == "uma frase …"


def test_save_mode() -> None:
    assert save_mode(True, "chapter-1") == "update"
    assert save_mode(True, None) == "save"
    assert save_mode(False, "chapter-1") == "save"


def test_revision_diff_marks_removed_and_added_lines() -> None:
    diff = revision_diff("Ana partiu.\nO mar.", "Ana ficou.\nO mar.", "Revisão 1", "Revisão 2")
    lines = diff.splitlines()
    assert lines[:2] == ["--- Revisão 1", "+++ Revisão 2"]
    assert "-Ana partiu." in lines and "+Ana ficou." in lines
    assert " O mar." in lines
    assert revision_diff("igual", "igual", "a", "b") == ""


def test_citations_are_one_per_chapter_in_retrieval_order() -> None:
    cited = [
        {"chapter_id": "c2", "position": 2, "title": "B"},
        {"chapter_id": "c1", "position": 1, "title": "A"},
        {"chapter_id": "c2", "position": 2, "title": "B"},
        {"chapter_id": None, "position": None, "title": "?"},
    ]
    assert [c["chapter_id"] for c in unique_citations(cited)] == ["c2", "c1"]


def test_worker_messages_are_translated_with_their_numbers() -> None:
    assert translate_message("Generating suggestions (42 tokens)", "pt-BR") == (
        "Gerando sugestões (42 tokens)"
    )
    assert translate_message("Indexed 12 passages", "pt-BR") == "12 trechos indexados"
    assert translate_message("Generating ideas, repairing the JSON (7 tokens)", "pt-BR") == (
        "Gerando ideias, corrigindo o JSON (7 tokens)"
    )
    assert translate_message("Attempt 2: starting again", "pt-BR") == "Tentativa 2: recomeçando"
    # English is the workers' own language; unknown phrases pass through unchanged.
    assert translate_message("Indexed 12 passages", "en") == "Indexed 12 passages"
    assert translate_message("Something new (3 of 9)", "pt-BR") == "Something new (3 of 9)"
    # Names fill slots too, and a fixed phrase wins over a pattern that would also match.
    assert translate_message("Reading livro.docx", "pt-BR") == "Lendo livro.docx"
    assert translate_message("Reading the chapter", "pt-BR") == "Lendo o capítulo"
    assert translate_message("Indexing 3 of 148 chapters (145 already indexed)", "pt-BR") == (
        "Indexando 3 de 148 capítulos (145 já indexados)"
    )


def test_every_phrase_the_workers_report_has_a_translation() -> None:
    import re

    core = Path(__file__).resolve().parents[2] / "services" / "core"
    phrases: set[str] = set()
    for path in core.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        pattern = r'(?:progress\([^,]+,|label=|(?<!, )message\s*=)\s*f?"([^"]+)"'
        for match in re.finditer(pattern, source):
            phrases.add(re.sub(r"\{[^}]+\}", "{n}", match.group(1)))
    missing = sorted(p for p in phrases if p not in JOB_MESSAGES["pt-BR"])
    assert missing == [], missing


def test_both_languages_have_every_label() -> None:
    assert LABELS["pt-BR"].keys() == LABELS["en"].keys()
    assert labels(None).language == "pt-BR"
    assert labels("fr").t("generate") == "Gerar sugestões"
    assert labels("en").t("chapter_saved", title="A", revision=2, words=3) == (
        "Chapter “A” saved (rev. 2, 3 words)."
    )


def test_every_label_key_is_used_by_the_ui() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in UI.rglob("*.py"))
    dynamic_prefixes = (
        "service_",
        "state_",
        "status_",
        "kind_",
        "page_",
        "source_",
        "artifact_",
        "doc_",
        "memory_mode_",
        "split_",
        "format_",
        "meta_",
    )
    unused = [
        key
        for key in LABELS["en"]
        if f'"{key}"' not in source and not key.startswith(dynamic_prefixes)
    ]
    assert unused == []


def test_queued_jobs_sums_the_backlog_and_takes_the_oldest_wait() -> None:
    ready = {
        "ready": True,
        "checks": {},
        "backlog": {
            "queued": 5,
            "queues": {
                "index": {"queued": 4, "oldest_age_s": 12.5, "depth": 4},
                "index_urgent": {"queued": 1, "oldest_age_s": 0.4, "depth": 1},
                "llm": {"queued": 0, "oldest_age_s": None, "depth": 0},
            },
        },
    }
    assert queued_jobs(ready) == (5, 12.5)  # type: ignore[arg-type]
    assert queued_jobs({"ready": True, "checks": {}}) == (0, None)
    assert queued_jobs({"ready": False, "checks": {}, "backlog": None}) == (0, None)
    assert queued_jobs(None) == (0, None)


def test_the_memory_notes_of_writing_results_are_translated() -> None:
    from services.core.writing.recall import EMPTY_NOTE, UNAVAILABLE_NOTE

    down = translate_message(UNAVAILABLE_NOTE.format(error="connection refused"), "pt-BR")
    assert down == "a memória do livro está indisponível (connection refused); escrito sem ela"
    assert translate_message(EMPTY_NOTE, "pt-BR").startswith("a memória do livro não achou")


def test_result_warnings_in_both_languages() -> None:
    from services.ui.logic import result_warnings

    result = {"warnings": [{"code": "repetition", "message": "the model started repeating"}]}
    assert "se repetir" in result_warnings(result, labels("pt-BR"))[0]
    assert "GPU presets" in result_warnings(result, labels("en"))[0]
    unknown = {"warnings": [{"code": "other", "message": "something else"}, "junk"]}
    assert result_warnings(unknown, labels("en")) == ["something else"]
    assert result_warnings(None, labels("en")) == [] and result_warnings({}, labels("en")) == []


def test_a_quote_is_shown_where_it_stands_in_its_chapter() -> None:
    text = "Primeiro paragrafo.\n\nCapitu *tinha* catorze anos. Era alta.\n\nOutro."
    start = text.index("Capitu")
    shown = quote_context(text, "Capitu *tinha* catorze anos.", start)
    # From its paragraph's start, the quote in bold, the book's own asterisks kept as text.
    assert shown == "… **Capitu \\*tinha\\* catorze anos\\.** Era alta\\. Outro\\."
    # Offsets of an older revision: the quote is looked for anywhere.
    assert quote_context("Novo começo. " + text, "Era alta.", 3) is not None
    assert quote_context(text, "Capitu tinha quinze anos.", start) is None
    long = "x " * 400 + "O fim chegou." + " y" * 400
    around = quote_context(long, "O fim chegou.") or ""
    assert around.startswith("… ") and around.endswith(" …") and "**O fim chegou\\.**" in around
