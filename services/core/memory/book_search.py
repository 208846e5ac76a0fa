"""Book search for authors: ranked passages of one book, how each was found, the words that
matched — through the same retriever as every other memory consumer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.db import transaction
from services.core.errors import InvalidInput
from services.core.memory.lexical import match_spans
from services.core.memory.retrieval import search_book
from services.core.memory.store import MemoryStore


@dataclass(frozen=True)
class SearchHit:
    doc_id: str
    chapter_id: str
    chapter_title: str
    chapter_position: int
    passage_index: int | None
    kind: str
    text: str
    highlights: list[tuple[int, int]]  # character spans of `text` matching the query's words
    found_by: str
    score: float


@dataclass(frozen=True)
class BookSearch:
    book_id: str
    query: str
    indexed: bool
    rebuilding: bool
    model: str | None
    took_ms: float
    results: list[SearchHit]


def check_query(query: str, max_chars: int) -> str:
    cleaned = query.strip()
    if not cleaned:
        raise InvalidInput("the search query is empty: type some words to look for")
    if len(cleaned) > max_chars:
        raise InvalidInput(
            f"the search query has {len(cleaned)} characters; at most {max_chars} are searched"
        )
    return cleaned


def search_book_passages(
    sessions: sessionmaker[Session],
    store: MemoryStore,
    book_id: str,
    query: str,
    k: int,
    *,
    max_chars: int,
) -> BookSearch:
    cleaned = check_query(query, max_chars)
    with transaction(sessions) as session:
        language = get_book(session, book_id).language  # 404 for an unknown book
    outcome = search_book(store, book_id, cleaned, k, neighbours=False)
    # Only the chapters of the hits: listing every chapter cost 25 ms a search at 500 chapters
    # (BENCHMARKS.md, "Book search at 100k passages").
    hit_chapters = {p.chapter_id for p in outcome.passages}
    chapters: dict[str, tuple[str, int]] = {}
    if hit_chapters:
        with transaction(sessions) as session:
            chapters = ChapterRepository(session).titles(book_id, hit_chapters)
    hits = []
    for p in outcome.passages:
        if p.chapter_id not in chapters:  # a chapter deleted since it was indexed
            continue
        title, position = chapters[p.chapter_id]
        hits.append(
            SearchHit(
                doc_id=p.doc_id,
                chapter_id=p.chapter_id,
                chapter_title=title,
                chapter_position=position,
                passage_index=p.index,
                kind=p.kind,
                text=p.text,
                highlights=match_spans(p.text, cleaned, language),
                found_by=p.found_by,
                score=round(p.score, 4),
            )
        )
    return BookSearch(
        book_id,
        cleaned,
        outcome.indexed,
        outcome.rebuilding,
        outcome.model,
        round(outcome.took_ms, 1),
        hits,
    )
