"""The audit's catalog on SQLite and PostgreSQL: findings stored with verbatim citations, marks
surviving re-runs, a changed passage bringing a finding back, incremental scope, the report."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.models import Chapter
from services.core.chapters.service import current_text, save_new_chapter, update_chapter
from services.core.continuity import service
from services.core.continuity.schemas import FindingOut
from services.core.db import transaction
from services.core.errors import NotFound

CHAPTERS = [
    ("Um", "Mara Quill chegou. Mara tinha olhos verdes e cabelo ruivo."),
    ("Dois", "Elsie Dunmore era professora. Elsie tinha cabelo preto."),
    (
        "Três",
        "Elsie tingiu o cabelo. Elsie, de cabelo louro, riu.\n\nA tarde caiu devagar. O vento "
        "parou. Mara olhou o espelho: os olhos castanhos de sempre.",
    ),
]


@pytest.fixture()
def book(sessions: sessionmaker[Session]) -> tuple[str, list[str]]:
    with transaction(sessions) as s:
        created = create_book(s, BookCreate(title="Farol", language="pt-BR"))
        ids = [
            save_new_chapter(s, book_id=created.id, title=t, text=x, max_chars=10_000).chapter.id
            for t, x in CHAPTERS
        ]
    return created.id, ids


def audit(
    sessions: sessionmaker[Session], book_id: str, *, force: bool = False
) -> tuple[int, list[FindingOut]]:
    with transaction(sessions) as s:
        text = service.read_book(s, book_id)
        scope = service.scope_of(s, book_id, text, None, force)
        candidates = service.candidates_for(text)
        rows = service.store_findings(s, book_id, text, candidates, scope)
        return len(scope), [service.finding_out(r) for r in rows]


def test_finding_with_verbatim_citations(
    sessions: sessionmaker[Session], book: tuple[str, list[str]]
) -> None:
    book_id, ids = book
    scope, findings = audit(sessions, book_id)
    assert scope == 3
    assert [(f.entity, f.attribute) for f in findings] == [("Mara Quill", "eye colour")]
    finding = findings[0]
    assert "verdes" not in finding.explanation and "capítulo 1" in finding.explanation
    assert [c.chapter_id for c in finding.citations] == [ids[0], ids[2]]
    with transaction(sessions) as s:
        for cite in finding.citations:
            chapter = s.get(Chapter, cite.chapter_id)
            assert chapter is not None
            text = current_text(s, chapter).text
            assert text[cite.start : cite.end] == cite.quote
            assert cite.revision == chapter.current_revision


def test_marks_survive_re_runs_until_a_passage_changes(
    sessions: sessionmaker[Session], book: tuple[str, list[str]]
) -> None:
    book_id, ids = book
    _, findings = audit(sessions, book_id)
    with transaction(sessions) as s:
        service.mark_finding(s, book_id, findings[0].id, "intentional")
    # Nothing changed: nothing in scope, the mark stays.
    scope, again = audit(sessions, book_id)
    assert scope == 0
    assert [(f.id, f.status) for f in again] == [(findings[0].id, "intentional")]
    # Forced: the same finding is found again and keeps its mark.
    _, forced = audit(sessions, book_id, force=True)
    assert [(f.id, f.status) for f in forced] == [(findings[0].id, "intentional")]
    with transaction(sessions) as s:
        page = service.list_findings(s, book_id, status="open")
        assert page.total == 0
    # The later passage changes: the old finding goes, a new open one comes.
    with transaction(sessions) as s:
        update_chapter(
            s,
            book_id=book_id,
            chapter_id=ids[2],
            title=None,
            text="Mara olhou o espelho: os olhos azuis de sempre.",
            expected_revision=None,
            max_chars=10_000,
        )
    scope, changed = audit(sessions, book_id)
    assert scope == 1
    assert len(changed) == 1 and changed[0].id != findings[0].id
    assert changed[0].status == "open" and changed[0].citations[1].revision == 2


def test_fixed_passage_removes_the_finding(
    sessions: sessionmaker[Session], book: tuple[str, list[str]]
) -> None:
    book_id, ids = book
    audit(sessions, book_id)
    with transaction(sessions) as s:
        update_chapter(
            s,
            book_id=book_id,
            chapter_id=ids[2],
            title=None,
            text="Mara olhou o espelho: os olhos verdes de sempre.",
            expected_revision=None,
            max_chars=10_000,
        )
    _, after = audit(sessions, book_id)
    assert after == []


def test_report_and_unknown_finding(
    sessions: sessionmaker[Session], book: tuple[str, list[str]]
) -> None:
    book_id, _ = book
    audit(sessions, book_id)
    with transaction(sessions) as s:
        text = service.report(s, book_id)
        assert text.startswith("# Relatório de continuidade: Farol")
        assert "olhos verdes" in text and "olhos castanhos" in text
        with pytest.raises(NotFound):
            service.mark_finding(s, book_id, "nope", "fix")
