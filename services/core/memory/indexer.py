"""Indexing a chapter into memory: chunk, embed, upsert, drop stale chunks; skip when unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.chapters.service import current_text, get_chapter
from services.core.db import transaction
from services.core.memory.chunking import INDEX_FORMAT, chapter_chunks
from services.core.memory.store import MemoryDocument, MemoryStore


@dataclass(frozen=True)
class IndexOutcome:
    chapter_id: str
    skipped: bool
    chunks: int
    deleted: int
    content_hash: str

    def as_dict(self) -> dict[str, object]:
        return {
            "chapter_id": self.chapter_id,
            "skipped": self.skipped,
            "chunks": self.chunks,
            "deleted": self.deleted,
            "content_hash": self.content_hash,
        }


def chunk_id(book_id: str, chapter_id: str, index: int) -> str:
    return f"{book_id}:{chapter_id}:chunk:{index}"


def summary_id(book_id: str, chapter_id: str) -> str:
    return f"{book_id}:{chapter_id}:summary"


def index_chapter(
    sessions: sessionmaker[Session],
    store: MemoryStore,
    chapter_id: str,
    *,
    force: bool = False,
    on_progress: Callable[[float, str], None] | None = None,
) -> IndexOutcome:
    with transaction(sessions) as session:
        chapter = get_chapter(session, chapter_id)
        revision = current_text(session, chapter)
        book_id, title, position = chapter.book_id, chapter.title, chapter.position
        number, content_hash, text = chapter.current_revision, chapter.content_hash, revision.text
        summary, up_to_date = chapter.summary, chapter.in_memory
        language = get_book(session, book_id).language
    # Up to date means in the current model's collection too: a model change makes a plain
    # reindex rebuild every chapter there, beside the old collection.
    if up_to_date and not force and store.chapter_ids(book_id, chapter_id):
        return IndexOutcome(chapter_id, True, 0, 0, content_hash)

    def meta(kind: str) -> dict[str, str | int | float | bool]:
        return {
            "book_id": book_id,
            "chapter_id": chapter_id,
            "title": title,
            "position": position,
            "kind": kind,
            "revision": number,
            "content_hash": content_hash,
            "language": language,  # chooses the lexical index's stemmer
        }

    chunks = chapter_chunks(title, text, store.embedder.count_tokens, store.embedder.max_tokens)
    documents = [
        MemoryDocument(chunk_id(book_id, chapter_id, c.index), c.text, meta("chunk"))
        for c in chunks
    ]
    if summary:
        documents.append(MemoryDocument(summary_id(book_id, chapter_id), summary, meta("summary")))
    if on_progress:
        on_progress(0.1, f"Embedding {len(documents)} passages")
    before = store.chapter_ids(book_id, chapter_id)
    store.upsert(documents)
    stale = sorted(before - {d.doc_id for d in documents})
    store.delete(book_id, stale)
    with transaction(sessions) as session:
        repo = ChapterRepository(session)
        repo.mark_indexed(chapter_id, content_hash, INDEX_FORMAT)
        chapters = {c.id for c in repo.list_for_book(book_id)}
    retire_when_complete(store, book_id, chapters)
    return IndexOutcome(chapter_id, False, len(chunks), len(stale), content_hash)


def retire_when_complete(store: MemoryStore, book_id: str, chapters: set[str]) -> bool:
    """When the current model's collection holds every chapter of the book, collections of
    older models go: until then search keeps answering from the old one."""
    if not store.older_collections(book_id):
        return False
    held = store.lexical.chapters(store.collection_name(book_id))
    if not chapters <= held:
        return False
    store.retire_older_models(book_id)
    return True
