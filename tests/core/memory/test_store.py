"""Memory on real Chroma, embedded and server modes, with the real offline embedding model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.core.config import Settings
from services.core.memory.embeddings import MINILM_NAME, MiniLMEmbedder
from services.core.memory.store import EmbeddingModelMismatch, MemoryDocument, MemoryStore


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(params=["embedded", "server"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: MiniLMEmbedder
) -> Iterator[MemoryStore]:
    env: dict[str, str] = {"DATA_DIR": str(tmp_path), "MEMORY_COLLECTION": f"t_{uuid.uuid4().hex}"}
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")
        env |= {"CHROMA_HOST": host, "CHROMA_PORT": str(port)}
    else:
        env["CHROMA_HOST"] = ""
    memory = MemoryStore.from_settings(Settings(_env_file=None, **env), embedder)  # type: ignore[call-arg]
    yield memory
    memory.clear()


def doc(book: str, chapter: str, n: int, text: str) -> MemoryDocument:
    meta: dict[str, str | int | float | bool] = {
        "book_id": book,
        "chapter_id": chapter,
        "title": f"Chapter {n}",
        "position": n,
        "kind": "chunk",
    }
    return MemoryDocument(f"{book}:{chapter}:chunk:0", text, meta)


def test_embeddings_are_normalised_and_meaningful(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        ["Her eyes were green as the sea.", "She had sea-green eyes.", "Taxes rose in March."]
    )
    assert len(a) == 384 and abs(sum(x * x for x in a) - 1.0) < 1e-3
    similar = sum(x * y for x, y in zip(a, b, strict=True))
    unrelated = sum(x * y for x, y in zip(a, c, strict=True))
    assert similar > unrelated + 0.2


def test_search_is_filtered_by_book_and_ranked(store: MemoryStore) -> None:
    store.upsert(
        [
            doc("b1", "c1", 1, "Elizabeth has dark eyes, very fine eyes."),
            doc("b1", "c2", 2, "The ball at Netherfield was crowded and loud."),
            doc("b2", "c9", 1, "Elizabeth's eyes were blue in this other book."),
        ]
    )
    assert store.collection("b1").metadata["embedding_model"] == MINILM_NAME
    found = store.search("b1", "What colour are Elizabeth's eyes?", top_k=5)
    assert [p.chapter_id for p in found] == ["c1", "c2"]
    assert found[0].score > found[1].score
    assert found[0].as_citation()["title"] == "Chapter 1"
    assert store.count("b1") == 2 and store.count() == 3
    assert store.chapter_ids("b1", "c1") == {"b1:c1:chunk:0"}
    assert sorted(c.name for c in store.collections()) == [
        store.collection_name("b1"),
        store.collection_name("b2"),
    ]
    assert store.delete_book("b1") == 2
    assert store.search("b1", "eyes", top_k=5) == []
    assert store.search("never-indexed", "eyes", top_k=5) == []
    docs, total = store.documents("b2", limit=10, offset=0)
    assert total == 1 and docs[0].metadata["chapter_id"] == "c9"


def test_a_collection_of_another_model_is_refused(store: MemoryStore) -> None:
    class OtherModel:
        name = "another-model"
        dimensions = 384

        def embed(self, texts: object) -> list[list[float]]:
            raise AssertionError("never called")

    store.upsert([doc("b", "c", 1, "text")])
    other = MemoryStore(store.client, store.prefix, OtherModel())
    with pytest.raises(EmbeddingModelMismatch, match="another-model"):
        other.search("b", "text", top_k=1)


def test_a_book_deleted_by_another_process_is_recreated_on_write(store: MemoryStore) -> None:
    other = MemoryStore(store.client, store.prefix, store.embedder)
    store.upsert([doc("b", "c", 1, "first text")])  # `store` now caches the collection
    assert other.delete_book("b") == 1
    assert store.chapter_ids("b", "c") == set()
    assert store.search("b", "text", top_k=3) == []
    store.upsert([doc("b", "c", 1, "second text")])
    assert [p.text for p in other.search("b", "text", top_k=3)] == ["second text"]


def test_a_chapter_can_be_left_out_of_a_search(store: MemoryStore) -> None:
    long_chapter = [
        MemoryDocument(
            f"b:long:chunk:{i}", f"O mar de Lisboa, parte {i}.", doc("b", "long", 1, "").metadata
        )
        for i in range(6)
    ]
    store.upsert([*long_chapter, doc("b", "other", 2, "Capitu olhava o mar.")])
    crowded = store.search("b", "o mar de Lisboa", top_k=3)
    assert {p.chapter_id for p in crowded} == {"long"}  # the long chapter fills the top-k
    others = store.search("b", "o mar de Lisboa", top_k=3, exclude_chapter="long")
    assert [p.chapter_id for p in others] == ["other"]
