"""The continuity audit's logic: the book's chapters and names in, candidates found, findings
stored so that the author's marks survive re-runs; listing, marking and the Markdown report."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.core.bible.aliases import KnownEntity
from services.core.bible.service import known_entities
from services.core.bible.text_facts import (
    Names,
    extract_facts,
    joined_names,
    names_from_texts,
    place_names,
    role_names,
)
from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text
from services.core.continuity.candidates import Candidate, ChapterDoc, ChapterFact, find_candidates
from services.core.continuity.models import ContinuityFinding
from services.core.continuity.repository import ContinuityRepository
from services.core.continuity.schemas import CitationOut, FindingOut, FindingPage
from services.core.errors import NotFound
from services.core.ids import new_short_id

_EXPLAIN = {
    "en": {
        "value": "{entity}: {attribute} is '{a}' in chapter {pa} but '{b}' in chapter {pb}.",
        "age": "{entity}'s age goes from {a} (chapter {pa}) to {b} (chapter {pb}), which the "
        "time gone by does not explain.",
        "birth": "{entity}'s age in chapter {pa} implies birth around {a}, but chapter {pb} "
        "says {b}.",
        "died": "{entity} dies in chapter {pa} but acts in chapter {pb}.",
        "left": "{entity} leaves for good in chapter {pa} but is back in chapter {pb}.",
        "date": "The dates run backwards: chapter {pb} comes after chapter {pa} but its date is "
        "earlier.",
        "month": "Chapter {pb} takes the story back to an earlier month than chapter {pa}'s "
        "(or to another month on the same day), with nothing saying it goes back in time.",
        "possession": "{entity} has a {a} in chapter {pa}, but in chapter {pb} never had any {b}.",
        "habit": "Chapter {pa} says this never happens, but in chapter {pb} it happens as usual.",
        "trait": "{entity} is one way in chapter {pa} ({attribute}) and the opposite, as if "
        "always so, in chapter {pb}.",
    },
    "pt": {
        "value": "{entity}: {attribute} é '{a}' no capítulo {pa} mas '{b}' no capítulo {pb}.",
        "age": "A idade de {entity} passa de {a} (capítulo {pa}) para {b} (capítulo {pb}), o "
        "que o tempo decorrido não explica.",
        "birth": "A idade de {entity} no capítulo {pa} indica nascimento por volta de {a}, mas "
        "o capítulo {pb} diz {b}.",
        "died": "{entity} morre no capítulo {pa} mas age no capítulo {pb}.",
        "left": "{entity} parte para sempre no capítulo {pa} mas está de volta no capítulo {pb}.",
        "date": "As datas andam para trás: o capítulo {pb} vem depois do {pa}, mas sua data é "
        "anterior.",
        "month": "O capítulo {pb} leva a história a um mês anterior ao do capítulo {pa} (ou a "
        "outro mês no mesmo dia), sem nada dizer que volta no tempo.",
        "possession": "{entity} tem {a} no capítulo {pa}, mas no capítulo {pb} diz que nunca "
        "teve {b}.",
        "trait": "{entity} é de um jeito no capítulo {pa} ({attribute}) e o contrário, como se "
        "sempre tivesse sido, no capítulo {pb}.",
        "habit": "O capítulo {pa} diz que isto nunca acontece, mas no capítulo {pb} acontece como "
        "de costume.",
    },
}
_ATTRIBUTES_PT = {
    "eye colour": "cor dos olhos",
    "hair colour": "cor do cabelo",
    "occupation": "ofício",
    "age": "idade",
    "lame leg": "perna manca",
    "temper": "temperamento",
    "sociability": "trato",
    "generosity": "generosidade",
    "devotion": "devoção",
    "courage": "coragem",
    "honesty": "honestidade",
    "build": "corpo",
}


# The kinds of thing of a possession, as the Portuguese explanation names them.
_THINGS_PT = {
    "horse": "um cavalo",
    "dog": "um cachorro",
    "cat": "um gato",
    "bird": "um pássaro",
    "car": "um carro",
    "animal": "um bicho",
}


def explain(candidate: Candidate, language: str) -> str:
    lang = "pt" if language.lower().startswith("pt") else "en"
    attribute = candidate.attribute or ""
    values = candidate.values
    if lang == "pt" and candidate.reason == "possession":
        values = (_THINGS_PT.get(values[0], values[0]), _THINGS_PT.get(values[1], values[1]))
    if lang == "pt":
        attribute = _ATTRIBUTES_PT.get(attribute, attribute)
        if attribute.startswith("relationship to "):
            attribute = "parentesco com " + attribute.removeprefix("relationship to ")
    first, last = candidate.citations[0], candidate.citations[-1]
    return (
        _EXPLAIN[lang]
        .get(candidate.reason, _EXPLAIN[lang]["value"])
        .format(
            entity=candidate.entity or "",
            attribute=attribute,
            a=values[0],
            b=values[1],
            pa=first.chapter.position,
            pb=last.chapter.position,
        )
    )


def signature(candidate: Candidate) -> str:
    """What identifies a finding across runs: the check, the entity, the attribute and the cited
    passages (chapter and quote): a changed passage makes it a new finding."""
    parts = [candidate.reason, candidate.entity or "", candidate.attribute or ""]
    parts += [f"{c.chapter.id}:{c.quote}" for c in candidate.citations]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass
class BookText:
    language: str
    chapters: list[ChapterDoc]
    hashes: dict[str, str]
    names: Names


def read_book(session: Session, book_id: str) -> BookText:
    book = get_book(session, book_id)
    chapters: list[ChapterDoc] = []
    hashes: dict[str, str] = {}
    for chapter in ChapterRepository(session).list_for_book(book_id):
        revision = current_text(session, chapter)
        chapters.append(
            ChapterDoc(chapter.id, chapter.position, chapter.title, revision.number, revision.text)
        )
        hashes[chapter.id] = chapter.content_hash
    names = audit_names([c.text for c in chapters], known_entities(session, book_id))
    return BookText(book.language, chapters, hashes, names)


def audit_names(texts: Sequence[str], entities: Iterable[KnownEntity]) -> Names:
    """The bible's names, and for what it does not hold (yet) the capitalised names of the
    text; places (by the bible's kind, or by how the book uses the name) own no facts."""
    entities = list(entities)
    bible = Names.of(
        ((e.name, e.aliases) for e in entities), (e.name for e in entities if e.kind != "character")
    )
    names = role_names(joined_names(bible.over(names_from_texts(texts))))
    return Names(names.spellings, names.not_people | place_names(texts, names))


def candidates_for(book: BookText, check: Callable[[], None] = lambda: None) -> list[Candidate]:
    facts: list[ChapterFact] = []
    for chapter in book.chapters:
        check()
        facts += [ChapterFact(chapter, fact) for fact in extract_facts(chapter.text, book.names)]
    return find_candidates(book.chapters, facts, book.names)


def _citations(candidate: Candidate) -> list[dict[str, Any]]:
    return [
        {
            "chapter_id": c.chapter.id,
            "chapter_position": c.chapter.position,
            "chapter_title": c.chapter.title,
            "revision": c.chapter.revision,
            "quote": c.quote,
            "start": c.start,
            "end": c.end,
        }
        for c in candidate.citations
    ]


def scope_of(
    session: Session, book_id: str, book: BookText, chapter_ids: Sequence[str] | None, force: bool
) -> set[str]:
    """The chapters this audit covers: those asked for, else those changed since the last
    audit (every chapter with force)."""
    known = {c.id for c in book.chapters}
    if chapter_ids:
        unknown = [c for c in chapter_ids if c not in known]
        if unknown:
            raise NotFound(f"chapter {unknown[0]!r} not found in this book")
        return set(chapter_ids)
    if force:
        return known
    digests = ContinuityRepository(session).digests(book_id)
    return {c for c in known if digests.get(c) != book.hashes[c]}


def known_signatures(session: Session, book_id: str) -> set[str]:
    return {f.signature for f in ContinuityRepository(session).findings(book_id)}


def store_findings(
    session: Session,
    book_id: str,
    book: BookText,
    candidates: Sequence[Candidate],
    scope: set[str],
) -> list[ContinuityFinding]:
    """Findings for the candidates touching `scope`: the same signature keeps its row (and
    mark); a finding in scope that was not found again goes (its passage changed, or the
    conflict is gone). Findings outside the scope stay as they are."""
    repo = ContinuityRepository(session)
    existing = {f.signature: f for f in repo.findings(book_id)}
    kept: set[str] = set()
    for candidate in candidates:
        if not candidate.chapter_ids & scope:
            continue
        sig = signature(candidate)
        kept.add(sig)
        if sig in existing:
            continue
        row = ContinuityFinding(
            id=new_short_id(),
            book_id=book_id,
            signature=sig,
            type=candidate.type,
            severity=candidate.severity,
            explanation=explain(candidate, book.language),
            entity=candidate.entity,
            attribute=candidate.attribute,
            status="open",
            citations=_citations(candidate),
            chapter_ids="|".join(sorted(candidate.chapter_ids)),
        )
        repo.add(row)
        existing[sig] = row
    live = {c.id for c in book.chapters}
    for sig, row in list(existing.items()):
        cited = set(row.chapter_ids.split("|"))
        if sig not in kept and (cited & scope or not cited <= live):
            repo.remove(row)
            del existing[sig]
    for chapter in book.chapters:
        if chapter.id in scope:
            repo.save_digest(book_id, chapter.id, book.hashes[chapter.id], chapter.revision)
    session.flush()
    return list(existing.values())


def finding_out(row: ContinuityFinding) -> FindingOut:
    return FindingOut(
        id=row.id,
        type=row.type,
        severity=row.severity,
        explanation=row.explanation,
        entity=row.entity,
        attribute=row.attribute,
        status=row.status,
        citations=[CitationOut.model_validate(c) for c in row.citations],
    )


_SEVERITY = {"high": 0, "medium": 1, "low": 2}


def _order(row: ContinuityFinding) -> tuple[int, int, str]:
    first = min((c["chapter_position"] for c in row.citations), default=0)
    return (_SEVERITY.get(row.severity, 3), first, row.id)


def list_findings(
    session: Session, book_id: str, *, status: str | None = None, type: str | None = None
) -> FindingPage:
    get_book(session, book_id)
    rows = sorted(
        ContinuityRepository(session).findings(book_id, status=status, type=type), key=_order
    )
    return FindingPage(items=[finding_out(r) for r in rows], total=len(rows))


def mark_finding(session: Session, book_id: str, finding_id: str, status: str) -> FindingOut:
    get_book(session, book_id)
    row = ContinuityRepository(session).finding(finding_id)
    if row is None or row.book_id != book_id:
        raise NotFound(f"finding {finding_id!r} not found in this book")
    row.status = status
    session.flush()
    return finding_out(row)


_REPORT = {
    "en": ("Continuity report", "No findings.", "Chapter", "status"),
    "pt": ("Relatório de continuidade", "Nenhum achado.", "Capítulo", "situação"),
}


def report(session: Session, book_id: str) -> str:
    """The findings as Markdown, most severe first, each with its quotes."""
    book = get_book(session, book_id)
    lang = "pt" if book.language.lower().startswith("pt") else "en"
    title, empty, chapter_word, status_word = _REPORT[lang]
    rows = sorted(ContinuityRepository(session).findings(book_id), key=_order)
    lines = [f"# {title}: {book.title}", ""]
    if not rows:
        lines.append(empty)
    for number, row in enumerate(rows, 1):
        lines.append(
            f"## {number}. [{row.severity}] {row.type} — {row.entity or ''} "
            f"({status_word}: {row.status})".replace(" —  (", " (")
        )
        lines.append("")
        lines.append(row.explanation)
        lines.append("")
        for cite in row.citations:
            quote = " ".join(str(cite["quote"]).split())
            lines.append(
                f"- {chapter_word} {cite['chapter_position']} ({cite['chapter_title']}, "
                f"rev. {cite['revision']}): > {quote}"
            )
        lines.append("")
    return "\n".join(lines) + "\n"
