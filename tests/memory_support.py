"""What tests need to know about memory: a book's collection name, and how many passages the
stack's embedder cuts a chapter into."""

from __future__ import annotations

from functools import lru_cache

import httpx

from services.core.config import Settings
from services.core.memory.chunking import chapter_chunks
from services.core.memory.embeddings import Embedder, make_embedder


def collection_name(api: httpx.Client, book_id: str) -> str:
    """The book's current collection (its name carries the embedding model's tag)."""
    status = api.get("/chroma/status").json()
    for c in api.get("/chroma/collections").json():
        meta = c["metadata"]
        if (
            meta.get("book_id") == book_id
            and meta.get("embedding_model") == (status["embedding_model"])
        ):
            return str(c["name"])
    return f"{status['collection_prefix']}-{book_id}"  # not made yet


@lru_cache(maxsize=4)
def embedder(model: str | None = None) -> Embedder:
    env = {"EMBEDDING_MODEL": model} if model else {}
    return make_embedder(Settings(_env_file=None, **env))  # type: ignore[call-arg]


def expected_passages(title: str, text: str, model: str | None = None) -> int:
    """Passages memory makes of a chapter with the default (or the named) embedding model."""
    e = embedder(model)
    return len(chapter_chunks(title, text, e.count_tokens, e.max_tokens))
