"""Book search latency through the API with 100k passages in one book, in server mode.

Starts its own stack in server mode: a PostgreSQL catalog (a fresh database on the machine's
server, dropped at the end), a Chroma server, the API (no worker: nothing is indexed by jobs),
a Redis database of its own. Creates one Portuguese book with `--chapters` chapters through
the API, then fills that book's memory directly, through the product's own classes
(`MemoryStore.collection` — the model-tagged collection the indexer writes — and
`MemoryStore.refresh_lexical`, which builds the bm25s index from what Chroma holds), with the
ids (`indexer.chunk_id`) and metadata the indexer writes.

What is SYNTHETIC (embedding 100k passages with e5 on 2 cores would take ~6 hours):
  * texts: `--real` real passages of Dom Casmurro (cut as indexing cuts them) and, for the
    rest, passages of 120-160 words re-combined at random from Dom Casmurro's sentences;
  * vectors: the real passages are embedded with the default model (multilingual-e5-small);
    every synthetic passage gets a mix of two of those vectors plus Gaussian noise,
    L2-normalised — the vector does not describe the synthetic text.
What is REAL: the query embedding (the API embeds each query with e5), the Chroma HNSW query
over 100k vectors, the BM25 scoring over 100k passages, the fusion, the catalog reads, the
highlighting and the HTTP round trip. Queries: the 60 Portuguese questions of
`bench/retrieval_questions/dom-casmurro.json` (first 3 calls are warm-up, not counted).

Then, in this process against the same Chroma server, lexical files and catalog, the same
search step by step, to show where the time goes. Goal: API search p95 <= 60 ms.

    .venv/bin/python -m bench.search_latency [--passages 100000] [--chapters 500] [--real 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.retrieval_set import load_questions, parse_novel
from services.core.books.service import get_book
from services.core.chapters.repository import ChapterRepository
from services.core.db import make_engine, make_session_factory, transaction
from services.core.memory.chunking import chapter_chunks
from services.core.memory.embeddings import make_embedder
from services.core.memory.indexer import chunk_id
from services.core.memory.lexical import match_spans
from services.core.memory.retrieval import POOL, _dense, _fetch, _fuse, _target
from services.core.memory.store import MemoryStore
from services.launcher.processes import ProcessGroup
from services.launcher.stack import free_port, start_chroma_server, start_stack

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CLAIM_KEY = "copiloto:test-session"  # the key test sessions use to claim a Redis database
WARMUP = 3
T = TypeVar("T")


def claim_redis_db(base: str) -> str:
    """A Redis database no test session holds (the tests claim theirs from 15 down)."""
    import redis

    for db in range(2, 16):
        client = redis.Redis.from_url(f"{base}/{db}")
        if client.set(CLAIM_KEY, os.getpid(), nx=True, ex=3600):
            client.flushdb()
            client.set(CLAIM_KEY, os.getpid(), ex=3600)
            return f"{base}/{db}"
    raise RuntimeError("no free Redis database")


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"copiloto_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def real_passages(store: MemoryStore, n: int) -> tuple[list[str], list[str]]:
    """`n` passages of Dom Casmurro spread over the book, cut as indexing cuts them, and the
    novel's sentences."""
    novel = parse_novel("dom-casmurro")
    embedder = store.embedder
    passages = [
        c.text
        for ch in novel.chapters
        for c in chapter_chunks(ch.title, ch.text, embedder.count_tokens, embedder.max_tokens)
    ]
    step = max(1, len(passages) // n)
    chosen = passages[::step][:n]
    sentences = [
        s.strip()
        for ch in novel.chapters
        for s in re.split(r"(?<=[.!?])\s+", ch.text.replace("\n", " "))
        if len(s.split()) >= 4
    ]
    return chosen, sentences


def synthetic_text(rng: random.Random, sentences: list[str]) -> str:
    target = rng.randint(120, 160)
    words: list[str] = []
    while len(words) < target:
        words.extend(rng.choice(sentences).split())
    return " ".join(words[:160])


def fill_memory(
    store: MemoryStore,
    book_id: str,
    chapters: list[str],
    total: int,
    texts: list[str],
    vectors: np.ndarray,
    sentences: list[str],
    seed: int = 13,
) -> float:
    """Write `total` passages into the book's collection as the indexer would; returns seconds."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    per_chapter = -(-total // len(chapters))
    stride = max(1, total // len(texts))
    collection = store.collection(book_id)  # the model-tagged collection, created as indexing does
    batch = min(2000, int(store.client.get_max_batch_size()))
    started = time.perf_counter()
    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict[str, Any]] = []
    embs: list[list[float]] = []

    def flush() -> None:
        collection.upsert(ids=ids, documents=docs, metadatas=metas, embeddings=embs)
        ids.clear(), docs.clear(), metas.clear(), embs.clear()

    for i in range(total):
        chapter_index, index = divmod(i, per_chapter)
        chapter = chapters[chapter_index]
        real = i % stride == 0 and i // stride < len(texts)
        if real:
            text = texts[i // stride]
            vector = vectors[i // stride]
        else:
            text = synthetic_text(rng, sentences)
            if index == 0:
                text = f"Capítulo {chapter_index + 1}\n\n{text}"
            a, b = nrng.integers(0, len(vectors), 2)
            mixed = (
                nrng.uniform(0.6, 1.0) * vectors[a]
                + nrng.uniform(0.0, 0.5) * vectors[b]
                + nrng.normal(0.0, 0.03, vectors.shape[1])
            )
            vector = mixed / np.linalg.norm(mixed)
        ids.append(chunk_id(book_id, chapter, index))
        docs.append(text)
        metas.append(
            {
                "book_id": book_id,
                "chapter_id": chapter,
                "title": f"Capítulo {chapter_index + 1}",
                "position": chapter_index + 1,
                "kind": "chunk",
                "revision": 1,
                "content_hash": "synthetic",
                "language": "pt-BR",
            }
        )
        embs.append([float(x) for x in vector])
        if len(ids) >= batch:
            flush()
            print(f"  {i + 1:,} passages written ({time.perf_counter() - started:.0f} s)")
    if ids:
        flush()
    return time.perf_counter() - started


def timed(out: dict[str, list[float]], step: str, fn: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = fn()
    out.setdefault(step, []).append((time.perf_counter() - started) * 1000)
    return value


def profile_search(
    store: MemoryStore, sessions: Any, book_id: str, query: str, k: int, out: dict[str, list[float]]
) -> None:
    """`book_search.search_book_passages` (hybrid, no neighbours) cut into its steps."""
    started = time.perf_counter()

    def every_chapter() -> None:  # what book_search read before: every chapter of the book
        with transaction(sessions) as session:
            get_book(session, book_id)
            {c.id: (c.title, c.position) for c in ChapterRepository(session).list_for_book(book_id)}

    def book_language() -> str:
        with transaction(sessions) as session:
            return get_book(session, book_id).language

    timed(out, "(before: book + every chapter)", every_chapter)
    language = timed(out, "catalog: the book", book_language)
    collection, embedder, _ = timed(
        out, "find collection (list_collections)", lambda: _target(store, book_id)
    )
    vector = timed(out, "query embedding (e5)", lambda: embedder.embed_query(query))
    dense = timed(out, "Chroma query, top 40", lambda: _dense(collection, vector, POOL, None))
    timed(out, "lexical up to date? (counts)", lambda: store.ensure_lexical(collection))
    hits = timed(
        out, "BM25 search, top 40", lambda: store.lexical.search(collection.name, query, POOL)
    )
    ranked = timed(
        out,
        "fusion",
        lambda: _fuse([p.doc_id for p in dense], [h.doc_id for h in hits], (1.0, 1.0)),
    )
    found = {p.doc_id for p in dense}
    missing = [d for d, _ in ranked[:k] if d not in found]
    fetched = timed(
        out,
        "Chroma get of lexical-only hits",
        lambda: _fetch(collection, missing) if missing else [],
    )
    chosen = dict(ranked[:k])
    texts = [p.text for p in dense if p.doc_id in chosen] + [p.text for p in fetched]
    hit_chapters = {p.chapter_id for p in dense if p.doc_id in chosen} | {
        p.chapter_id for p in fetched
    }

    def titles() -> dict[str, tuple[str, int]]:
        with transaction(sessions) as session:
            return ChapterRepository(session).titles(book_id, hit_chapters)

    timed(out, "catalog: the hits' chapters", titles)
    timed(out, "highlighting", lambda: [match_spans(t, query, language) for t in texts])
    before = out["(before: book + every chapter)"][-1]
    out.setdefault("total (after)", []).append((time.perf_counter() - started) * 1000 - before)


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--chapters", type=int, default=500)
    parser.add_argument("--real", type=int, default=200, help="real passages embedded with e5")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the 60 questions")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--redis-base", default="redis://127.0.0.1:6379")
    args = parser.parse_args()
    import redis

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; load average at start {os.getloadavg()[0]:.2f}"
    )
    redis_url = claim_redis_db(args.redis_base)
    questions = [q.question for q in load_questions("dom-casmurro")]
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # search never calls the LLM
    with tempfile.TemporaryDirectory(prefix="copiloto-search-") as tmp, postgres_database() as db:
        group = ProcessGroup(Path(tmp) / "logs")
        stack = None
        try:
            chroma = start_chroma_server(group, Path(tmp) / "chroma")
            stack = start_stack(
                Path(tmp) / "stack",
                redis_url=redis_url,
                llm_url=dead_llm,
                log_dir=Path(tmp) / "logs" / "stack",
                chroma=chroma,
                database_url=db,
                with_worker=False,
            )
            settings = stack.settings
            store = MemoryStore.from_settings(settings, make_embedder(settings))
            with stack.client() as api:
                book = api.post("/books", json={"title": "Cem mil", "language": "pt-BR"})
                book_id = str(book.json()["id"])
                chapters = []
                for n in range(args.chapters):
                    saved = api.post(
                        "/chapter/save",
                        json={"book_id": book_id, "title": f"Capítulo {n + 1}", "text": "(bench)"},
                    )
                    saved.raise_for_status()
                    chapters.append(str(saved.json()["chapter_id"]))
            print(f"{args.chapters} chapters saved through the API (PostgreSQL catalog)")

            texts, sentences = real_passages(store, args.real)
            started = time.perf_counter()
            vectors = np.asarray(store.embedder.embed(texts), dtype=np.float32)
            embed_s = time.perf_counter() - started
            print(f"{len(texts)} real passages embedded with e5 in {embed_s:.1f} s")
            fill_s = fill_memory(store, book_id, chapters, args.passages, texts, vectors, sentences)
            started = time.perf_counter()
            store.refresh_lexical(book_id)
            lexical_s = time.perf_counter() - started
            count = store.count(book_id)
            print(
                f"Chroma filled with {count:,} passages in {fill_s:.0f} s; lexical index "
                f"(refresh_lexical: read every passage back, tokenize, bm25s) {lexical_s:.1f} s"
            )

            client_ms: list[float] = []
            server_ms: list[float] = []
            found_by: dict[str, int] = {}
            with stack.client() as api:
                first = time.perf_counter()
                api.get(f"/books/{book_id}/search", params={"q": questions[0], "k": args.k})
                first_ms = (time.perf_counter() - first) * 1000
                for q in questions[1:WARMUP]:
                    api.get(f"/books/{book_id}/search", params={"q": q, "k": args.k})
                load_api = os.getloadavg()[0]
                for _ in range(args.rounds):
                    for q in questions:
                        started = time.perf_counter()
                        response = api.get(f"/books/{book_id}/search", params={"q": q, "k": args.k})
                        client_ms.append((time.perf_counter() - started) * 1000)
                        response.raise_for_status()
                        body = response.json()
                        server_ms.append(float(body["took_ms"]))
                        for hit in body["results"]:
                            found_by[hit["found_by"]] = found_by.get(hit["found_by"], 0) + 1
            load_api_end = os.getloadavg()[0]

            # The same searches step by step, in this process.
            engine = make_engine(db)
            sessions = make_session_factory(engine)
            steps: dict[str, list[float]] = {}
            for q in questions[:WARMUP]:
                profile_search(store, sessions, book_id, q, args.k, {})
            for q in questions:
                profile_search(store, sessions, book_id, q, args.k, steps)
            engine.dispose()
        finally:
            if stack is not None:
                stack.stop()
            group.stop()
            redis.Redis.from_url(redis_url).flushdb()

    n = len(client_ms)
    print(
        f"\nbook search through the API, {count:,} passages in one book ({args.chapters} "
        f"chapters), server mode (PostgreSQL, Chroma server), k={args.k}, hybrid, no reranker"
    )
    print("SYNTHETIC: passage texts re-combined from Dom Casmurro's sentences and vectors mixed")
    print(f"from {len(texts)} real e5 vectors; REAL: query embedding, Chroma, BM25, catalog, HTTP")
    print(f"first search (the API loads the book's BM25 index): {first_ms:.0f} ms")
    print(f"{'':38s}{'n':>5s}{'p50':>9s}{'p95':>9s}{'max':>9s}  (ms)")
    print(
        f"  {'GET /books/{id}/search (client)':36s}{n:5d}{pct(client_ms, 50):9.1f}"
        f"{pct(client_ms, 95):9.1f}{max(client_ms):9.1f}"
    )
    print(
        f"  {'  of which search_book (took_ms)':36s}{n:5d}{pct(server_ms, 50):9.1f}"
        f"{pct(server_ms, 95):9.1f}{max(server_ms):9.1f}"
    )
    print(f"  hits by how found: {found_by}")
    print(f"load average during the API queries {load_api:.2f} -> {load_api_end:.2f}")
    print("\nwhere the time goes (same searches in this process, step by step, ms):")
    print(f"{'':38s}{'p50':>9s}{'p95':>9s}{'mean':>9s}")
    for step, values in steps.items():
        print(
            f"  {step:36s}{pct(values, 50):9.2f}{pct(values, 95):9.2f}"
            f"{statistics.fmean(values):9.2f}"
        )
    p95 = pct(client_ms, 95)
    print(f"goal: search p95 <= 60 ms {'met' if p95 <= 60 else 'NOT met'} ({p95:.1f} ms)")


if __name__ == "__main__":
    main()
