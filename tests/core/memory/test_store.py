"""Memory on real Chroma, embedded and server modes, with the real offline embedding model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.core.config import Settings
from services.core.memory import lexical
from services.core.memory import store as memory_store
from services.core.memory.embeddings import MINILM_NAME, MiniLMEmbedder
from services.core.memory.lexical import LexicalIndex
from services.core.memory.retrieval import search_memory
from services.core.memory.store import (
    EmbeddingModelMismatch,
    MemoryDocument,
    MemoryStore,
    MemoryUnavailable,
)


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
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    memory = MemoryStore.from_settings(settings, embedder)
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
    found = search_memory(store, "b1", "What colour are Elizabeth's eyes?", top_k=5)
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
    assert search_memory(store, "b1", "eyes", top_k=5) == []
    assert search_memory(store, "never-indexed", "eyes", top_k=5) == []
    docs, total = store.documents("b2", limit=10, offset=0)
    assert total == 1 and docs[0].metadata["chapter_id"] == "c9"


class OtherModel:
    """A second model (MiniLM's vectors under another name): what a model change looks like."""

    def __init__(self, name: str = "another-model", tag: str = "other") -> None:
        self.name, self.tag, self.dimensions, self.max_tokens = name, tag, 384, 254
        self.inner = MiniLMEmbedder()

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def count_tokens(self, words: list[str]) -> list[int]:
        return self.inner.count_tokens(words)


def test_a_new_model_builds_beside_the_old_one_which_answers_until_then(
    store: MemoryStore,
) -> None:
    store.upsert([doc("b", "c1", 1, "The old memory: Elizabeth walks to Netherfield.")])
    new = MemoryStore(store.client, store.prefix, OtherModel(), store.lexical)
    new._embedders[MINILM_NAME] = store.embedder  # the old model can still embed queries
    assert new.collection_name("b") != store.collection_name("b")
    new.upsert([doc("b", "c2", 2, "The new memory, half built.")])
    # Half built: the old collection answers, and is the one that is searched.
    found = search_memory(new, "b", "Elizabeth walks", top_k=3)
    assert [p.chapter_id for p in found] == ["c1"]
    assert {c.name for c in new.older_collections("b")} == {store.collection_name("b")}
    assert new.retire_older_models("b") == 1
    assert [p.chapter_id for p in search_memory(new, "b", "memory", top_k=3)] == ["c2"]
    assert new.delete_book("b") == 1 and new.book_collections("b") == []


def test_a_collection_whose_pinned_model_differs_is_refused(store: MemoryStore) -> None:
    store.upsert([doc("b", "c", 1, "text")])
    clash = MemoryStore(store.client, store.prefix, OtherModel(tag=""), store.lexical)
    with pytest.raises(EmbeddingModelMismatch, match="another-model"):
        clash.chapter_ids("b", "c")


def test_a_book_deleted_by_another_process_is_recreated_on_write(store: MemoryStore) -> None:
    other = MemoryStore(store.client, store.prefix, store.embedder)
    store.upsert([doc("b", "c", 1, "first text")])  # `store` now caches the collection
    assert other.delete_book("b") == 1
    assert store.chapter_ids("b", "c") == set()
    assert search_memory(store, "b", "text", top_k=3) == []
    store.upsert([doc("b", "c", 1, "second text")])
    assert [p.text for p in search_memory(other, "b", "text", top_k=3)] == ["second text"]


def test_a_chapter_can_be_left_out_of_a_search(store: MemoryStore) -> None:
    long_chapter = [
        MemoryDocument(
            f"b:long:chunk:{i}", f"O mar de Lisboa, parte {i}.", doc("b", "long", 1, "").metadata
        )
        for i in range(6)
    ]
    store.upsert([*long_chapter, doc("b", "other", 2, "Capitu olhava o mar.")])
    crowded = search_memory(store, "b", "o mar de Lisboa", top_k=3)
    assert {p.chapter_id for p in crowded} == {"long"}  # the long chapter fills the top-k
    others = search_memory(store, "b", "o mar de Lisboa", top_k=3, exclude_chapter="long")
    assert [p.chapter_id for p in others] == ["other"]


def lexical_ids(store: MemoryStore, book: str) -> set[str]:
    return store.lexical.ids(store.collection_name(book))


def vector_ids(store: MemoryStore, book: str) -> set[str]:
    collection = store.collection(book, create=False)
    return set(collection.get(include=[])["ids"]) if collection is not None else set()


def test_lexical_and_vector_indexes_agree_after_every_operation(store: MemoryStore) -> None:
    def agree(book: str) -> set[str]:
        ids = vector_ids(store, book)
        assert lexical_ids(store, book) == ids
        return ids

    store.upsert([doc("b", "c1", 1, "Capitu e os olhos de ressaca."), doc("b2", "x", 1, "x y")])
    assert agree("b") == {"b:c1:chunk:0"}
    store.upsert([MemoryDocument("b:c1:chunk:1", "Escobar nada.", doc("b", "c1", 1, "").metadata)])
    assert agree("b") == {"b:c1:chunk:0", "b:c1:chunk:1"}
    store.upsert([doc("b", "c1", 1, "Capitu mudou: olhos de cigana.")])  # an update
    assert agree("b") == {"b:c1:chunk:0", "b:c1:chunk:1"}
    assert [p.found_by for p in search_memory(store, "b", "cigana", top_k=1)] == ["both"]
    store.delete("b", ["b:c1:chunk:1"])
    assert agree("b") == {"b:c1:chunk:0"}
    store.delete_book("b")
    assert agree("b") == set() and agree("b2") == {"b2:x:chunk:0"}
    store.clear()
    assert agree("b2") == set() and store.lexical.names() == []


def test_search_finds_a_word_without_accents_or_case(store: MemoryStore) -> None:
    store.upsert(
        [
            doc("b", "c1", 1, "O CORAÇÃO de Bentinho batia."),
            doc("b", "c2", 2, "Uma tarde qualquer no Engenho Novo."),
        ]
    )
    hits = search_memory(store, "b", "coracao", top_k=2)
    assert hits[0].chapter_id == "c1" and hits[0].found_by in {"lexical", "both"}


def test_a_missing_lexical_index_is_rebuilt_from_the_vectors(store: MemoryStore) -> None:
    store.upsert([doc("b", "c1", 1, "Sancha e Escobar na praia do Flamengo.")])
    store.lexical.remove(store.collection_name("b"))  # an install from before hybrid search
    assert search_memory(store, "b", "Flamengo", top_k=1)[0].found_by == "both"
    assert lexical_ids(store, "b") == {"b:c1:chunk:0"}


def test_a_lexical_index_out_of_step_is_rebuilt_once_its_check_expires(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer died between its two writes: Chroma holds a passage the lexical index lacks. A
    search trusts an index it found in step (same version) for LEXICAL_CHECK_S, then
    recounts and rebuilds it."""
    store.upsert([doc("b", "c1", 1, "Sancha e Escobar na praia do Flamengo.")])
    assert search_memory(store, "b", "Flamengo", top_k=1)[0].found_by == "both"  # in step
    late = doc("b", "c2", 2, "Capitu no quintal, junto ao muro, com a prima.")
    store.collection("b").upsert(  # Chroma only, as a writer that died before the lexical
        ids=[late.doc_id],
        documents=[late.text],
        metadatas=[late.metadata],
        embeddings=store.embedder.embed([late.text]),
    )
    monkeypatch.setattr(memory_store, "LEXICAL_CHECK_S", 3600.0)
    search_memory(store, "b", "quintal", top_k=2)
    assert lexical_ids(store, "b") == {"b:c1:chunk:0"}  # trusted, not recounted
    monkeypatch.setattr(memory_store, "LEXICAL_CHECK_S", 0.0)
    hits = search_memory(store, "b", "quintal", top_k=2)
    assert lexical_ids(store, "b") == {"b:c1:chunk:0", "b:c2:chunk:0"}
    assert hits[0].chapter_id == "c2" and hits[0].found_by == "both"


def test_an_unreachable_chroma_is_an_error_not_an_empty_result(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATA_DIR=str(tmp_path), CHROMA_HOST="127.0.0.1", CHROMA_PORT="9"
    )
    memory = MemoryStore.from_settings(settings, MiniLMEmbedder())
    with pytest.raises(MemoryUnavailable, match="unavailable"):
        search_memory(memory, "b", "anything", top_k=3)


def test_only_not_found_means_no_collection(store: MemoryStore) -> None:
    class Broken:
        def get_collection(self, *args: object, **kwargs: object) -> None:
            raise TimeoutError("chroma timed out")

        def list_collections(self) -> list[object]:
            raise TimeoutError("chroma timed out")

    broken = MemoryStore(Broken(), store.prefix, store.embedder, LexicalIndex(store.lexical.root))
    with pytest.raises(MemoryUnavailable, match="timed out"):
        broken.collection("b", create=False)
    assert store.collection("never-made", create=False) is None


def test_a_stemmer_matches_words_across_their_forms(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off by default (it lowered hybrid recall, BENCHMARKS.md), kept working for a language
    where it pays off: the book's language, stored with each passage, chooses it."""
    monkeypatch.setattr(lexical, "STEMMERS", {"pt": "portuguese"})
    lexical._stemmer.cache_clear()

    def pt(chapter: str, n: int, text: str) -> MemoryDocument:
        d = doc("b", chapter, n, text)
        return MemoryDocument(d.doc_id, text, {**d.metadata, "language": "pt-BR"})

    store.upsert([pt("c1", 1, "Os olhares de Capitu eram oblíquos."), pt("c2", 2, "Chovia.")])
    assert store.lexical.language(store.collection_name("b")) == "pt-BR"
    hits = search_memory(store, "b", "olhar", top_k=1)
    assert hits[0].chapter_id == "c1" and hits[0].found_by in {"lexical", "both"}
    lexical._stemmer.cache_clear()


def test_highlights_mark_every_occurrence_of_a_matching_word() -> None:
    text = "Olhos de ressaca; olhos, OLHOS de Capitu, e o mar."
    marked = [text[a:b] for a, b in lexical.match_spans(text, "olhos do mar", "pt-BR")]
    assert marked == ["Olhos", "olhos", "OLHOS", "mar"]
