"""The lexical half of memory: a BM25 index per book collection (`bm25s`), as files under
DATA_DIR/lexical, shared by the API and the workers.

Why files and not a SQL table: BM25 scores come from a sparse matrix that `bm25s` builds and
saves as a few NumPy arrays; reading them back costs milliseconds and a process keeps them until
the book's index changes. Each build is written to a new folder and published by replacing one
small pointer file (`os.replace`, atomic), so a reader never sees half an index; builds of one
book are serialised by a file lock, so two workers indexing chapters of the same book cannot
publish an older view last. The passages come from the book's Chroma collection itself (same
ids, same texts): the two indexes cannot disagree about what memory holds.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_TOKEN = re.compile(r"\w+")
POINTER = "current"


def fold(text: str) -> str:
    """Lower case without accents: "Coração" and "coracao" are one word to the index."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_PORTUGUESE

    return frozenset(fold(w) for w in (*STOPWORDS_EN, *STOPWORDS_PORTUGUESE))


# Stemmers by language (PyStemmer's Snowball names), used only where the evaluation says they
# pay off (bench/retrieval_product.py, BENCHMARKS.md "Retrieval"). Measured on Dom Casmurro:
# Portuguese stemming lifts BM25 alone (recall@5 0.55 -> 0.57, @10 0.63 -> 0.68) but lowers the
# hybrid ranking the product uses (recall@5 0.62 -> 0.58, @10 0.75 -> 0.70); English stemming
# moved Pride and Prejudice's BM25 both ways. So none by default; e.g. {"pt": "portuguese"}.
STEMMERS: dict[str, str] = {}


@lru_cache(maxsize=4)
def _stemmer(language: str | None) -> Any:
    name = STEMMERS.get((language or "").split("-")[0].lower())
    if name is None:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Folded words, without the English and Portuguese stop words (the two lists barely
    collide), stemmed when the book's language has a stemmer that paid off."""
    stop = _stopwords()
    words = [w for w in _TOKEN.findall(fold(text)) if w not in stop and not w.isdigit()]
    stemmer = _stemmer(language)
    return list(stemmer.stemWords(words)) if stemmer is not None and words else words


def match_spans(text: str, query: str, language: str | None = None) -> list[tuple[int, int]]:
    """Character spans of the words of `text` that the query's words match (folded, and
    stemmed like the index: "olhos" marks "olhar" in Portuguese)."""
    wanted = set(tokenize(query, language))
    if not wanted:
        return []
    spans = []
    matches: dict[str, bool] = {}  # a passage repeats its words: fold and stem each once
    for m in _TOKEN.finditer(text):
        word = m.group()
        hit = matches.get(word)
        if hit is None:
            folded = tokenize(word, language)
            hit = matches[word] = bool(folded) and folded[0] in wanted
        if hit:
            spans.append(m.span())
    return spans


@dataclass(frozen=True)
class LexicalHit:
    doc_id: str
    score: float


@dataclass
class _Loaded:
    version: str
    retriever: Any
    ids: list[str]
    chapters: list[str]
    language: str | None


class LexicalIndex:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, _Loaded] = {}
        self._guard = threading.Lock()

    def _dir(self, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or ".." in name:
            raise ValueError(f"not a collection name: {name!r}")
        return self.root / name

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Held while a book's index is rebuilt or removed (across processes)."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{self._dir(name).name}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def build(
        self,
        name: str,
        ids: Sequence[str],
        texts: Sequence[str],
        chapters: Sequence[str],
        language: str | None = None,
    ) -> None:
        """Publish a new index of these passages (call under `lock(name)`)."""
        import bm25s

        if not ids:
            self.remove(name)
            return
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        version = f"v-{uuid.uuid4().hex[:12]}"
        staging = folder / f".{version}"
        corpus = [tokenize(t, language) or [""] for t in texts]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        retriever.save(str(staging))
        (staging / "passages.json").write_text(
            json.dumps({"ids": list(ids), "chapters": list(chapters), "language": language}),
            encoding="utf-8",
        )
        staging.rename(folder / version)
        pointer = folder / f".{POINTER}-{version}"
        pointer.write_text(version, encoding="utf-8")
        os.replace(pointer, folder / POINTER)
        self._prune(folder, keep=version)

    @staticmethod
    def _prune(folder: Path, keep: str) -> None:
        # The previous version stays a moment for a reader that has just read the pointer;
        # anything older goes.
        versions = sorted(
            (p for p in folder.iterdir() if p.name.startswith("v-") and p.name != keep),
            key=lambda p: p.stat().st_mtime,
        )
        for old in versions[:-1]:
            shutil.rmtree(old, ignore_errors=True)

    def remove(self, name: str) -> None:
        shutil.rmtree(self._dir(name), ignore_errors=True)
        with self._guard:
            self._cache.pop(name, None)

    def remove_all(self) -> None:
        if self.root.exists():
            for child in self.root.iterdir():
                if child.name != ".locks":
                    shutil.rmtree(child, ignore_errors=True)
        with self._guard:
            self._cache.clear()

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return [p.name for p in self.root.iterdir() if (p / POINTER).exists()]

    def _load(self, name: str) -> _Loaded | None:
        import bm25s

        folder = self._dir(name)
        for _attempt in (1, 2):  # a build may prune the version between pointer and read
            try:
                version = (folder / POINTER).read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                with self._guard:
                    self._cache.pop(name, None)
                return None
            with self._guard:
                cached = self._cache.get(name)
            if cached is not None and cached.version == version:
                return cached
            try:
                retriever = bm25s.BM25.load(str(folder / version))
                meta = json.loads((folder / version / "passages.json").read_text("utf-8"))
            except FileNotFoundError:
                continue
            loaded = _Loaded(
                version, retriever, meta["ids"], meta["chapters"], meta.get("language")
            )
            with self._guard:
                self._cache[name] = loaded
            return loaded
        return None

    def version(self, name: str) -> str | None:
        """The published version of the index (changes with every build), None if none."""
        try:
            return (self._dir(name) / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        return (self._dir(name) / POINTER).exists()

    def ids(self, name: str) -> set[str]:
        loaded = self._load(name)
        return set(loaded.ids) if loaded else set()

    def chapters(self, name: str) -> set[str]:
        loaded = self._load(name)
        return set(loaded.chapters) if loaded else set()

    def language(self, name: str) -> str | None:
        loaded = self._load(name)
        return loaded.language if loaded else None

    def count(self, name: str) -> int:
        loaded = self._load(name)
        return len(loaded.ids) if loaded else 0

    def search(
        self, name: str, query: str, k: int, *, exclude_chapter: str | None = None
    ) -> list[LexicalHit]:
        loaded = self._load(name)
        terms = tokenize(query, loaded.language) if loaded else []
        if loaded is None or not terms:
            return []
        known = [t for t in terms if t in loaded.retriever.vocab_dict]
        if not known:
            return []
        mask = None
        if exclude_chapter is not None:
            mask = np.array([c != exclude_chapter for c in loaded.chapters], dtype=np.float32)
        scores = np.asarray(loaded.retriever.get_scores(known, weight_mask=mask))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [LexicalHit(loaded.ids[i], float(scores[i])) for i in top if scores[i] > 0]
