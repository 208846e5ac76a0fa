"""Memory speed: indexing throughput on real prose, retrieval latency at 1k/10k/100k chunks.

In one run, for Chroma embedded (PersistentClient) and server (`chroma run`, HttpClient):
  * indexing: Dom Casmurro chunked and embedded in batches, against a baseline that embeds one
    passage per call (as the original design did);
  * retrieval: `MemoryStore.search` (query embedding + HNSW query in the book's own collection)
    with 1k, 10k and 100k chunks in the book, against the single shared collection filtered by
    `book_id` (the first design of this project) holding as many chunks.
Bulk chunks beyond the real ones use random unit vectors: retrieval cost depends on the count and
dimension of vectors, not on their meaning, and embedding 100k real passages would take hours here.

    .venv/bin/python bench/memory.py [--sizes 1000,10000,100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from services.core.config import Settings
from services.core.memory.chunking import chunk_text
from services.core.memory.embeddings import MiniLMEmbedder
from services.core.memory.retrieval import search_memory
from services.core.memory.store import MemoryDocument, MemoryStore
from services.launcher.processes import ProcessGroup
from services.launcher.stack import start_chroma_server

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dom-casmurro.txt"
QUERIES = [
    "Capitu e os olhos de ressaca",
    "o ciúme de Bento por Escobar",
    "a promessa da mãe de fazê-lo padre",
    "José Dias e os superlativos",
    "o seminário e a vocação",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def real_passages(limit_words: int) -> list[str]:
    words = CORPUS.read_text(encoding="utf-8").split()[:limit_words]
    return [c.text for c in chunk_text(" ".join(words))]


def make_store(mode: str, root: Path, group: ProcessGroup) -> MemoryStore:
    env = {"DATA_DIR": str(root), "MEMORY_COLLECTION": f"bench_{uuid.uuid4().hex[:8]}"}
    if mode == "server":
        host, port = start_chroma_server(group, root / "server")
        env |= {"CHROMA_HOST": host, "CHROMA_PORT": str(port)}
    else:
        env["CHROMA_HOST"] = ""
    return MemoryStore.from_settings(Settings(_env_file=None, **env), MiniLMEmbedder())  # type: ignore[call-arg]


def bench_indexing(embedder: MiniLMEmbedder, passages: list[str]) -> None:
    words = sum(len(p.split()) for p in passages)
    embedder.embed(passages[:4])  # load the model outside the timing
    started = time.perf_counter()
    embedder.embed(passages)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for passage in passages:
        embedder.embed([passage])
    one_by_one = time.perf_counter() - started
    n = len(passages)
    print(f"\nembedding {n} real passages ({words:,} words)")
    print(f"  batched (ours)         {n / batched:7.1f} chunks/s {words / batched:8.0f} words/s")
    print(
        f"  one per call (baseline){n / one_by_one:7.1f} chunks/s {words / one_by_one:8.0f} words/s"
    )
    print(f"  ratio                  {one_by_one / batched:7.2f}x")


def random_unit(rng: np.random.Generator, n: int) -> np.ndarray:
    block = rng.standard_normal((n, 384)).astype(np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    return block


def fill(collection: Any, target: int, rng: np.random.Generator, book_ids: list[str]) -> None:
    """Add random unit vectors until `collection` holds `target` chunks spread over `book_ids`."""
    have = int(collection.count())
    while have < target:
        n = min(5000, target - have)
        collection.add(
            ids=[f"bulk:{have + i}" for i in range(n)],
            embeddings=random_unit(rng, n).tolist(),
            documents=["(synthetic)"] * n,
            metadatas=[
                {
                    "book_id": book_ids[(have + i) % len(book_ids)],
                    "chapter_id": "x",
                    "kind": "chunk",
                }
                for i in range(n)
            ],
        )
        have += n


def timed_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--index-words", type=int, default=16_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    passages = real_passages(args.index_words)
    embedder = MiniLMEmbedder()
    bench_indexing(embedder, passages)

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="copiloto-membench-") as tmp:
        group = ProcessGroup(Path(tmp) / "logs")
        try:
            for mode in ("embedded", "server"):
                store = make_store(mode, Path(tmp) / mode, group)
                meta: dict[str, str | int | float | bool] = {
                    "book_id": "real",
                    "chapter_id": "c",
                    "kind": "chunk",
                }
                started = time.perf_counter()
                store.upsert(
                    [MemoryDocument(f"real:c:chunk:{i}", t, meta) for i, t in enumerate(passages)]
                )
                stored = time.perf_counter() - started
                print(
                    f"\n[{mode}] index {len(passages)} real passages (embed + upsert): "
                    f"{len(passages) / stored:.1f} chunks/s"
                )
                # Ours: the searched book holds all N chunks (a worst case: one huge book).
                # Baseline: one shared collection of N chunks over 10 books, filtered by book,
                # as the single-collection design did.
                shared = store.client.get_or_create_collection(
                    f"{store.prefix}-shared-baseline",
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
                for size in sizes:
                    fill(store.collection("big"), size, rng, ["big"])
                    fill(shared, size, rng, [f"book{i}" for i in range(10)])
                    queries = iter(QUERIES * args.queries)

                    def filtered() -> object:
                        (vector,) = embedder.embed([next(queries)])
                        return shared.query(
                            query_embeddings=[vector], n_results=5, where={"book_id": "book1"}
                        )

                    ours = timed_ms(
                        lambda: search_memory(store, "big", next(queries), top_k=5), args.queries
                    )
                    base = timed_ms(filtered, args.queries)
                    print(
                        f"[{mode}] {size:>7,} chunks  ours p50 {statistics.median(ours):6.1f} ms "
                        f"p95 {pct(ours, 95):6.1f} ms | shared+filter p50 "
                        f"{statistics.median(base):6.1f} ms p95 {pct(base, 95):6.1f} ms"
                        f" | speed-up p95 {pct(base, 95) / pct(ours, 95):.1f}x"
                    )
                store.clear()
        finally:
            group.stop()
    print("\ngoal: search p95 <= 30 ms at 100k chunks")


if __name__ == "__main__":
    main()
