"""The Chroma collection that holds every book's passages, always written with our own vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from services.core.config import Settings
from services.core.memory.embeddings import Embedder

Metadata = dict[str, str | int | float | bool]
T = TypeVar("T")


@dataclass(frozen=True)
class Passage:
    doc_id: str
    chapter_id: str
    title: str
    position: int
    kind: str  # chunk | summary
    score: float  # cosine similarity, 1 is identical
    text: str

    def as_citation(self) -> dict[str, Any]:
        return {
            "chapter_id": self.chapter_id,
            "title": self.title,
            "position": self.position,
            "passage": self.text,
            "score": round(self.score, 4),
            "doc_id": self.doc_id,
        }


@dataclass(frozen=True)
class MemoryDocument:
    doc_id: str
    text: str
    metadata: Metadata


class EmbeddingModelMismatch(RuntimeError):
    pass


def make_chroma_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    # Embedded store: for single-process use only (CLI, unit tests).
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class MemoryStore:
    """One Chroma collection per book, named `<prefix>-<book_id>`.

    A book's own collection makes "filtered by book" structural (a query cannot reach another
    book) and fast: Chroma answers a metadata-filtered query by scanning, ~50 ms at 100k
    passages here, while an unfiltered HNSW query on one book's collection takes ~1-2 ms.
    """

    def __init__(self, client: Any, prefix: str, embedder: Embedder) -> None:
        self.client = client
        self.prefix = prefix
        self.embedder = embedder
        self._collections: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder) -> MemoryStore:
        return cls(make_chroma_client(settings), settings.memory_collection, embedder)

    def collection_name(self, book_id: str) -> str:
        return f"{self.prefix}-{book_id}"

    def owns(self, name: str) -> bool:
        return name.startswith(f"{self.prefix}-")

    def collection(self, book_id: str, *, create: bool = True) -> Any:
        if book_id in self._collections:
            return self._collections[book_id]
        name = self.collection_name(book_id)
        if create:
            collection = self.client.get_or_create_collection(
                name,
                metadata={
                    "embedding_model": self.embedder.name,
                    "dimensions": self.embedder.dimensions,
                    "book_id": book_id,
                },
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,  # never Chroma's default: it downloads a model
            )
        else:
            try:
                collection = self.client.get_collection(name, embedding_function=None)
            except Exception:  # chromadb raises NotFoundError (or ValueError in old versions)
                return None
        pinned = (collection.metadata or {}).get("embedding_model")
        if pinned != self.embedder.name:
            raise EmbeddingModelMismatch(
                f"collection {name!r} holds vectors of {pinned!r}, not {self.embedder.name!r}: "
                "delete this book's memory and reindex it"
            )
        self._collections[book_id] = collection
        return collection

    def _use(self, book_id: str, op: Callable[[Any], T], *, create: bool) -> T | None:
        """Run `op` on the book's collection. Another process (the API) may have deleted the
        collection this process cached: then look it up again, once."""
        for attempt in (1, 2):
            collection = self.collection(book_id, create=create)
            if collection is None:
                return None
            try:
                return op(collection)
            except Exception as exc:
                if type(exc).__name__ != "NotFoundError" or attempt == 2:
                    raise
                self._collections.pop(book_id, None)
        return None  # pragma: no cover - the loop returns or raises

    def collections(self) -> list[Any]:
        return [c for c in self.client.list_collections() if self.owns(c.name)]

    def upsert(self, documents: Sequence[MemoryDocument]) -> None:
        by_book: dict[str, list[MemoryDocument]] = {}
        for doc in documents:
            by_book.setdefault(str(doc.metadata["book_id"]), []).append(doc)
        for book_id, docs in by_book.items():
            vectors = self.embedder.embed([d.text for d in docs])
            self._use(
                book_id,
                lambda c, docs=docs, vectors=vectors: c.upsert(  # type: ignore[misc]
                    ids=[d.doc_id for d in docs],
                    documents=[d.text for d in docs],
                    metadatas=[d.metadata for d in docs],
                    embeddings=vectors,
                ),
                create=True,
            )

    def chapter_ids(self, book_id: str, chapter_id: str) -> set[str]:
        found = self._use(
            book_id, lambda c: c.get(where={"chapter_id": chapter_id}, include=[]), create=False
        )
        return set(found["ids"]) if found else set()

    def delete(self, book_id: str, ids: Sequence[str]) -> None:
        if ids:
            self._use(book_id, lambda c: c.delete(ids=list(ids)), create=False)

    def delete_book(self, book_id: str) -> int:
        collection = self.collection(book_id, create=False)
        if collection is None:
            return 0
        removed = int(collection.count())
        self.client.delete_collection(collection.name)
        self._collections.pop(book_id, None)
        return removed

    def count(self, book_id: str | None = None) -> int:
        if book_id is None:
            return sum(int(c.count()) for c in self.collections())
        return int(self._use(book_id, lambda c: c.count(), create=False) or 0)

    def search(
        self, book_id: str, query: str, top_k: int, *, exclude_chapter: str | None = None
    ) -> list[Passage]:
        """The passages of this book closest to the query; never another book's.

        `exclude_chapter` is filtered inside the query: dropping a chapter's passages afterwards
        leaves nothing when a long chapter fills the whole top-k with its own passages.
        """
        if self.collection(book_id, create=False) is None:
            return []
        (vector,) = self.embedder.embed([query])
        where = {"chapter_id": {"$ne": exclude_chapter}} if exclude_chapter else None
        found = self._use(
            book_id,
            lambda c: c.query(
                query_embeddings=[vector],
                n_results=top_k,
                where=where,
                include=["documents", "metadatas", "distances"],
            ),
            create=False,
        )
        if found is None:
            return []
        passages = []
        for doc_id, text, meta, distance in zip(
            found["ids"][0],
            found["documents"][0],
            found["metadatas"][0],
            found["distances"][0],
            strict=True,
        ):
            passages.append(
                Passage(
                    doc_id=doc_id,
                    chapter_id=str(meta["chapter_id"]),
                    title=str(meta.get("title", "")),
                    position=int(meta.get("position", 0)),
                    kind=str(meta.get("kind", "chunk")),
                    score=1.0 - float(distance),
                    text=text,
                )
            )
        return passages

    def documents(
        self, book_id: str, *, limit: int, offset: int
    ) -> tuple[list[MemoryDocument], int]:
        collection = self.collection(book_id, create=False)
        if collection is None:
            return [], 0
        found = collection.get(limit=limit, offset=offset, include=["documents", "metadatas"])
        docs = [
            MemoryDocument(doc_id, text or "", dict(meta or {}))
            for doc_id, text, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        ]
        return docs, int(collection.count())

    def clear(self) -> int:
        removed = 0
        for collection in self.collections():
            removed += int(collection.count())
            self.client.delete_collection(collection.name)
        self._collections.clear()
        return removed
