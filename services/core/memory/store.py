"""The Chroma collection that holds every book's passages, always written with our own vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.core.config import Settings
from services.core.memory.embeddings import Embedder

Metadata = dict[str, str | int | float | bool]


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
    def __init__(self, client: Any, collection_name: str, embedder: Embedder) -> None:
        self.client = client
        self.collection_name = collection_name
        self.embedder = embedder
        self._collection: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder) -> MemoryStore:
        return cls(make_chroma_client(settings), settings.memory_collection, embedder)

    @property
    def collection(self) -> Any:
        if self._collection is None:
            collection = self.client.get_or_create_collection(
                self.collection_name,
                metadata={
                    "embedding_model": self.embedder.name,
                    "dimensions": self.embedder.dimensions,
                },
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,  # never Chroma's default: it downloads a model
            )
            pinned = (collection.metadata or {}).get("embedding_model")
            if pinned != self.embedder.name:
                raise EmbeddingModelMismatch(
                    f"collection {self.collection_name!r} holds vectors of {pinned!r}, not "
                    f"{self.embedder.name!r}: set MEMORY_COLLECTION to a new name and reindex"
                )
            self._collection = collection
        return self._collection

    def upsert(self, documents: Sequence[MemoryDocument]) -> None:
        if not documents:
            return
        vectors = self.embedder.embed([d.text for d in documents])
        self.collection.upsert(
            ids=[d.doc_id for d in documents],
            documents=[d.text for d in documents],
            metadatas=[d.metadata for d in documents],
            embeddings=vectors,
        )

    def chapter_ids(self, book_id: str, chapter_id: str) -> set[str]:
        found = self.collection.get(
            where={"$and": [{"book_id": book_id}, {"chapter_id": chapter_id}]}, include=[]
        )
        return set(found["ids"])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))

    def delete_book(self, book_id: str) -> int:
        found = self.collection.get(where={"book_id": book_id}, include=[])
        self.delete(found["ids"])
        return len(found["ids"])

    def count(self, book_id: str | None = None) -> int:
        if book_id is None:
            return int(self.collection.count())
        return len(self.collection.get(where={"book_id": book_id}, include=[])["ids"])

    def search(self, book_id: str, query: str, top_k: int) -> list[Passage]:
        """The passages of this book closest to the query; never another book's."""
        (vector,) = self.embedder.embed([query])
        found = self.collection.query(
            query_embeddings=[vector],
            n_results=top_k,
            where={"book_id": book_id},
            include=["documents", "metadatas", "distances"],
        )
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
        self, *, book_id: str | None, limit: int, offset: int
    ) -> tuple[list[MemoryDocument], int]:
        where = {"book_id": book_id} if book_id else None
        found = self.collection.get(
            where=where, limit=limit, offset=offset, include=["documents", "metadatas"]
        )
        docs = [
            MemoryDocument(doc_id, text or "", dict(meta or {}))
            for doc_id, text, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        ]
        return docs, self.count(book_id)

    def clear(self) -> None:
        self.client.delete_collection(self.collection_name)
        self._collection = None
