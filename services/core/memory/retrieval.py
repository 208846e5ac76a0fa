"""The one retriever every memory consumer uses (ask, suggest, critique, expand, book search):
dense (embeddings in Chroma) and lexical (BM25) rankings of the same passages, fused by
reciprocal rank fusion, each hit with its neighbouring passages as context for the LLM.

RRF rather than a weighted sum of scores: cosine similarities and BM25 scores live on scales
that differ per query and per book, ranks do not; measured in bench/retrieval_eval.py
(BENCHMARKS.md, "Retrieval").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.core.memory.store import (
    MemoryStore,
    Passage,
    unavailable_on_error,
)

Mode = Literal["hybrid", "dense", "lexical"]
RRF_K = 60
# Candidates taken from each ranking before fusion.
POOL = 40


@dataclass(frozen=True)
class SearchOutcome:
    passages: list[Passage]
    indexed: bool  # the book has memory at all
    model: str | None  # the embedding model of the collection searched
    rebuilding: bool  # memory is being rebuilt with a new model; the old one answered
    took_ms: float


def search_memory(
    store: MemoryStore,
    book_id: str,
    query: str,
    top_k: int,
    *,
    exclude_chapter: str | None = None,
) -> list[Passage]:
    return search_book(store, book_id, query, top_k, exclude_chapter=exclude_chapter).passages


def _target(store: MemoryStore, book_id: str) -> tuple[Any, Any, bool]:
    """The collection to search and the embedder of its model. While a new model's collection
    is being filled (an older one of the book still exists), the older one answers."""
    current = store.collection(book_id, create=False)
    older = store.older_collections(book_id)
    if not older:
        return current, store.embedder, False
    with unavailable_on_error():
        old = max(older, key=lambda c: int(c.count()))
    model = str((old.metadata or {}).get("embedding_model", ""))
    return old, store.embedder_for(model), True


def search_book(
    store: MemoryStore,
    book_id: str,
    query: str,
    top_k: int,
    *,
    exclude_chapter: str | None = None,
    mode: Mode = "hybrid",
    pool: int = POOL,
    weights: tuple[float, float] = (1.0, 1.0),
    neighbours: bool = True,
) -> SearchOutcome:
    started = time.perf_counter()
    collection, embedder, rebuilding = _target(store, book_id)
    if collection is None:
        return SearchOutcome([], False, None, False, 0.0)
    model = str((collection.metadata or {}).get("embedding_model", "")) or None
    pool = max(pool, top_k)
    found: dict[str, Passage] = {}
    dense: list[str] = []
    lexical: list[str] = []
    if mode != "lexical" and embedder is not None:
        with unavailable_on_error("the embedding model"):
            vector = embedder.embed_query(query)
        for passage in _dense(collection, vector, pool, exclude_chapter):
            found[passage.doc_id] = passage
            dense.append(passage.doc_id)
    if mode != "dense" or embedder is None:
        store.ensure_lexical(collection)
        hits = store.lexical.search(collection.name, query, pool, exclude_chapter=exclude_chapter)
        lexical = [h.doc_id for h in hits]
    ranked = _fuse(dense, lexical, weights) if mode == "hybrid" else _alone(dense or lexical)
    chosen = ranked[:top_k]
    missing = [doc_id for doc_id, _ in chosen if doc_id not in found]
    if missing:
        found.update({p.doc_id: p for p in _fetch(collection, missing)})
    in_dense, in_lexical = set(dense), set(lexical)
    passages = []
    for doc_id, score in chosen:
        if doc_id not in found:  # deleted between the two reads
            continue
        how = (
            "both"
            if doc_id in in_dense and doc_id in in_lexical
            else ("semantic" if doc_id in in_dense else "lexical")
        )
        keep_cosine = mode == "dense"
        passage = found[doc_id]
        passages.append(
            replace(passage, found_by=how, score=passage.score if keep_cosine else score)
        )
    if neighbours:
        passages = with_neighbours(collection, passages)
    took = (time.perf_counter() - started) * 1000
    return SearchOutcome(passages, True, model, rebuilding, took)


def _fuse(
    dense: Sequence[str], lexical: Sequence[str], weights: tuple[float, float]
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion, scaled so that first in both rankings scores 1."""
    scores: dict[str, float] = {}
    for ranking, weight in ((dense, weights[0]), (lexical, weights[1])):
        for rank, doc_id in enumerate(ranking):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (RRF_K + rank + 1)
    best = (weights[0] + weights[1]) / (RRF_K + 1)
    return sorted(((d, s / best) for d, s in scores.items()), key=lambda x: -x[1])


def _alone(ranking: Sequence[str]) -> list[tuple[str, float]]:
    return [(doc_id, 1.0 / (rank + 1)) for rank, doc_id in enumerate(ranking)]


def _passage(doc_id: str, text: str | None, meta: dict[str, Any] | None, score: float) -> Passage:
    meta = meta or {}
    return Passage(
        doc_id=doc_id,
        chapter_id=str(meta.get("chapter_id", "")),
        title=str(meta.get("title", "")),
        position=int(meta.get("position", 0)),
        kind=str(meta.get("kind", "chunk")),
        score=score,
        text=text or "",
    )


def _dense(
    collection: Any, vector: list[float], n: int, exclude_chapter: str | None
) -> list[Passage]:
    # `exclude_chapter` is filtered inside the query: dropping a chapter's passages afterwards
    # leaves nothing when a long chapter fills the whole pool with its own passages.
    where = {"chapter_id": {"$ne": exclude_chapter}} if exclude_chapter else None
    with unavailable_on_error():
        result = collection.query(
            query_embeddings=[vector],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
    return [
        _passage(doc_id, text, meta, 1.0 - float(distance))
        for doc_id, text, meta, distance in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
    ]


def _fetch(collection: Any, ids: list[str]) -> list[Passage]:
    with unavailable_on_error():
        got = collection.get(ids=ids, include=["documents", "metadatas"])
    return [
        _passage(doc_id, text, meta, 0.0)
        for doc_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]


def _sibling(doc_id: str, index: int) -> str:
    return f"{doc_id.rsplit(':', 1)[0]}:{index}"


def with_neighbours(collection: Any, passages: list[Passage]) -> list[Passage]:
    """Each chunk's context: the passage before, the passage, the passage after (overlaps
    removed), so the LLM reads a hit in its surroundings. Citations keep the passage alone."""
    wanted = {
        _sibling(p.doc_id, p.index + step)
        for p in passages
        if p.index is not None
        for step in (-1, 1)
        if p.index + step >= 0
    }
    texts: dict[str, str] = {}
    if wanted:
        with unavailable_on_error():
            got = collection.get(ids=sorted(wanted), include=["documents"])
        texts = {i: t or "" for i, t in zip(got["ids"], got["documents"], strict=True)}
    out = []
    for p in passages:
        context = p.text
        if p.index is not None:
            before = texts.get(_sibling(p.doc_id, p.index - 1)) if p.index > 0 else None
            after = texts.get(_sibling(p.doc_id, p.index + 1))
            if before:
                context = join_overlapping(before, context)
            if after:
                context = join_overlapping(context, after)
        out.append(replace(p, context=context))
    return out


def join_overlapping(first: str, second: str) -> str:
    """`first` then `second` without the words they share (consecutive passages overlap)."""
    a, b = first.split(), second.split()
    for size in range(min(len(a), len(b), 400), 0, -1):
        if a[-size:] == b[:size]:
            # Keep the original spacing of `first`, then what `second` adds.
            rest = second
            for word in b[:size]:
                rest = rest[rest.index(word) + len(word) :]
            return first + rest
    return f"{first}\n\n{second}"
