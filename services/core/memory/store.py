"""Each book's memory: a Chroma collection (vectors we compute) and a lexical index beside it,
changed together by every write here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.core.config import Settings
from services.core.errors import ServiceUnavailable
from services.core.memory.embeddings import Embedder, make_embedder
from services.core.memory.lexical import LexicalIndex

Metadata = dict[str, str | int | float | bool]
T = TypeVar("T")
# Passages read from Chroma per call when a lexical index is rebuilt.
READ_PAGE = 2000
# Seconds a lexical index found in step with its collection is trusted without recounting.
LEXICAL_CHECK_S = 10.0


@dataclass(frozen=True)
class Passage:
    doc_id: str
    chapter_id: str
    title: str
    position: int
    kind: str  # chunk | summary
    score: float  # 1 is best: cosine similarity, or the fused rank score of hybrid search
    text: str
    found_by: str = "semantic"  # semantic | lexical | both
    # The passage with its neighbours in the chapter: what the LLM reads (the citation stays
    # the passage itself).
    context: str = field(default="", compare=False)

    @property
    def index(self) -> int | None:
        """The passage's number within its chapter (None for a summary)."""
        tail = self.doc_id.rsplit(":", 1)[-1]
        return int(tail) if self.kind == "chunk" and tail.isdigit() else None

    def as_citation(self) -> dict[str, Any]:
        return {
            "chapter_id": self.chapter_id,
            "title": self.title,
            "position": self.position,
            "passage": self.text,
            "passage_index": self.index,
            "score": round(self.score, 4),
            "doc_id": self.doc_id,
            "found_by": self.found_by,
        }


@dataclass(frozen=True)
class MemoryDocument:
    doc_id: str
    text: str
    metadata: Metadata


class EmbeddingModelMismatch(RuntimeError):
    pass


class MemoryUnavailable(ServiceUnavailable):
    """Chroma, the lexical index or the embedding server cannot answer: never "nothing found"."""


_PROGRAMMING_ERRORS = (TypeError, AttributeError, KeyError, AssertionError, NameError)


@contextmanager
def unavailable_on_error(what: str = "memory") -> Iterator[None]:
    """Turns an outage (connection refused, timeout, server error) into MemoryUnavailable; a
    collection that does not exist (NotFoundError) and our own errors pass through."""
    try:
        yield
    except (MemoryUnavailable, EmbeddingModelMismatch, *_PROGRAMMING_ERRORS):
        raise
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":
            raise
        raise MemoryUnavailable(f"{what} unavailable: {exc}"[:500]) from exc


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


def _is_not_found(exc: Exception) -> bool:
    return type(exc).__name__ == "NotFoundError"


class MemoryStore:
    """One Chroma collection per book and embedding model, `<prefix>-<book_id>.<model tag>`
    (MiniLM's, from before models were tagged: `<prefix>-<book_id>`), and its lexical index.

    A book's own collection makes "filtered by book" structural (a query cannot reach another
    book) and fast: Chroma answers a metadata-filtered query by scanning, ~50 ms at 100k
    passages here, while an unfiltered HNSW query on one book's collection takes ~1-2 ms.
    The model tag lets a new model's collection grow beside the old one while search keeps
    using the old (services/core/memory/retrieval.py) until every chapter is in the new one.
    """

    def __init__(
        self,
        client: Any,
        prefix: str,
        embedder: Embedder,
        lexical: LexicalIndex | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.embedder = embedder
        self.settings = settings
        if lexical is None:
            import tempfile
            from pathlib import Path

            lexical = LexicalIndex(Path(tempfile.gettempdir()) / f"copiloto-lexical-{prefix}")
        self.lexical = lexical
        self._collections: dict[str, Any] = {}
        self._embedders: dict[str, Embedder | None] = {embedder.name: embedder}
        self._client_lock = threading.Lock()
        self._lexical_checked: dict[str, tuple[str, float]] = {}  # name -> (version, when)

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None) -> MemoryStore:
        # The client connects when first used: a Chroma outage at start-up must not stop the
        # API or a worker from starting, only memory from answering (503 / job error).
        return cls(
            lambda: make_chroma_client(settings),
            settings.memory_collection,
            embedder or make_embedder(settings),
            LexicalIndex(settings.lexical_dir),
            settings=settings,
        )

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "get_or_create_collection"):
            with self._client_lock, unavailable_on_error():
                if callable(self._client) and not hasattr(self._client, "get_or_create_collection"):
                    self._client = self._client()
        return self._client

    # -- names ---------------------------------------------------------------------------

    def collection_name(self, book_id: str, embedder: Embedder | None = None) -> str:
        tag = (embedder or self.embedder).tag
        return f"{self.prefix}-{book_id}" + (f".{tag}" if tag else "")

    def owns(self, name: str) -> bool:
        return name.startswith(f"{self.prefix}-")

    def book_of(self, name: str) -> str:
        return name.removeprefix(f"{self.prefix}-").split(".", 1)[0]

    def embedder_for(self, model: str) -> Embedder | None:
        """The embedder that made a pinned collection, if this installation still has it."""
        if model not in self._embedders:
            try:
                if self.settings is None:
                    raise LookupError(model)
                self._embedders[model] = make_embedder(self.settings, model)
            except (LookupError, ValueError):
                self._embedders[model] = None
        return self._embedders[model]

    # -- collections ---------------------------------------------------------------------

    def collection(self, book_id: str, *, create: bool = True) -> Any:
        """The book's collection for the current model (None if absent and not `create`)."""
        if book_id in self._collections:
            return self._collections[book_id]
        name = self.collection_name(book_id)
        with unavailable_on_error():
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
                except Exception as exc:
                    if _is_not_found(exc):  # only "does not exist" means no memory
                        return None
                    raise
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
                with unavailable_on_error():
                    return op(collection)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
                self._collections.pop(book_id, None)
                if attempt == 2:
                    return None
        return None  # pragma: no cover - the loop returns or raises

    def collections(self) -> list[Any]:
        with unavailable_on_error():
            return [c for c in self.client.list_collections() if self.owns(c.name)]

    def book_collections(self, book_id: str) -> list[Any]:
        """Every collection of the book, whatever its model."""
        return [c for c in self.collections() if self.book_of(c.name) == book_id]

    def older_collections(self, book_id: str) -> list[Any]:
        """The book's collections of other models: memory being rebuilt with this one."""
        current = self.collection_name(book_id)
        return [c for c in self.book_collections(book_id) if c.name != current]

    # -- writes (vectors and lexical index together) -------------------------------------

    def upsert(self, documents: Sequence[MemoryDocument]) -> None:
        by_book: dict[str, list[MemoryDocument]] = {}
        for doc in documents:
            by_book.setdefault(str(doc.metadata["book_id"]), []).append(doc)
        for book_id, docs in by_book.items():
            with unavailable_on_error("the embedding model"):
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
            self.refresh_lexical(book_id)

    def chapter_ids(self, book_id: str, chapter_id: str) -> set[str]:
        found = self._use(
            book_id, lambda c: c.get(where={"chapter_id": chapter_id}, include=[]), create=False
        )
        return set(found["ids"]) if found else set()

    def delete(self, book_id: str, ids: Sequence[str]) -> None:
        if ids:
            self._use(book_id, lambda c: c.delete(ids=list(ids)), create=False)
            self.refresh_lexical(book_id)

    def refresh_lexical(self, book_id: str, collection: Any = None) -> None:
        """Rebuild the lexical index of a collection (the book's current one by default) from
        the passages Chroma holds: same ids, same texts."""
        if collection is None:
            collection = self.collection(book_id, create=False)
            if collection is None:
                self.lexical.remove(self.collection_name(book_id))
                return
        try:
            with self.lexical.lock(collection.name):
                ids, texts, chapters, languages = self._all_passages(collection)
                # The book's language (in each passage's metadata) chooses the stemmer.
                language = max(set(languages), key=languages.count) if languages else None
                self.lexical.build(collection.name, ids, texts, chapters, language or None)
        except OSError as exc:
            raise MemoryUnavailable(f"lexical index unavailable: {exc}") from exc

    def _all_passages(self, collection: Any) -> tuple[list[str], list[str], list[str], list[str]]:
        ids: list[str] = []
        texts: list[str] = []
        chapters: list[str] = []
        languages: list[str] = []
        offset = 0
        while True:
            with unavailable_on_error():
                page = collection.get(
                    limit=READ_PAGE, offset=offset, include=["documents", "metadatas"]
                )
            for doc_id, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            ):
                ids.append(doc_id)
                texts.append(text or "")
                chapters.append(str((meta or {}).get("chapter_id", "")))
                languages.append(str((meta or {}).get("language", "")))
            if len(page["ids"]) < READ_PAGE:
                return ids, texts, chapters, languages
            offset += READ_PAGE

    def ensure_lexical(self, collection: Any) -> None:
        """A collection whose lexical index is missing or out of step (made before hybrid
        search existed, or a writer died between the two writes) gets it rebuilt.

        Asking Chroma for the count costs ~15 ms at 100k passages, on every search: an index
        found in step is trusted for LEXICAL_CHECK_S while its version stays the same (every
        write publishes a new version, so only a writer that died between its two writes can
        leave the two apart, and then for at most that long)."""
        name = collection.name
        try:
            version = self.lexical.version(name)
        except OSError as exc:
            raise MemoryUnavailable(f"lexical index unavailable: {exc}") from exc
        checked = self._lexical_checked.get(name)
        if (
            version is not None
            and checked is not None
            and checked[0] == version
            and time.monotonic() - checked[1] < LEXICAL_CHECK_S
        ):
            return
        with unavailable_on_error():
            expected = int(collection.count())
        try:
            if self.lexical.exists(name) and self.lexical.count(name) == expected:
                self._lexical_checked[name] = (version or "", time.monotonic())
                return
        except OSError as exc:
            raise MemoryUnavailable(f"lexical index unavailable: {exc}") from exc
        self._lexical_checked.pop(name, None)
        self.refresh_lexical(self.book_of(collection.name), collection)

    def _drop(self, collection: Any) -> int:
        with unavailable_on_error():
            removed = int(collection.count())
            try:
                self.client.delete_collection(collection.name)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
        with self.lexical.lock(collection.name):
            self.lexical.remove(collection.name)
        return removed

    def delete_book(self, book_id: str) -> int:
        """Remove everything memory holds for a book: vectors of every model and the lexical
        indexes. What deleting or trashing a book calls. Returns the passages removed."""
        removed = sum(self._drop(c) for c in self.book_collections(book_id))
        self._collections.pop(book_id, None)
        for name in self.lexical.names():  # a lexical index whose collection vanished
            if self.owns(name) and self.book_of(name) == book_id:
                self.lexical.remove(name)
        return removed

    def retire_older_models(self, book_id: str) -> int:
        """Once the current model's collection holds every chapter, the old ones go."""
        return sum(self._drop(c) for c in self.older_collections(book_id))

    def count(self, book_id: str | None = None) -> int:
        if book_id is None:
            with unavailable_on_error():
                return sum(int(c.count()) for c in self.collections())
        return int(self._use(book_id, lambda c: c.count(), create=False) or 0)

    # -- reads ---------------------------------------------------------------------------

    def documents(
        self, book_id: str, *, limit: int, offset: int
    ) -> tuple[list[MemoryDocument], int]:
        collection = self.collection(book_id, create=False)
        if collection is None:
            return [], 0
        with unavailable_on_error():
            found = collection.get(limit=limit, offset=offset, include=["documents", "metadatas"])
            total = int(collection.count())
        docs = [
            MemoryDocument(doc_id, text or "", dict(meta or {}))
            for doc_id, text, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        ]
        return docs, total

    def clear(self) -> int:
        removed = 0
        for collection in self.collections():
            removed += self._drop(collection)
        self._collections.clear()
        self.lexical.remove_all()
        return removed
