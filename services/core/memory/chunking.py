"""Splitting a chapter into overlapping passages short enough for the embedding model."""

from __future__ import annotations

import re
from dataclasses import dataclass

# all-MiniLM-L6-v2 reads at most 256 word pieces; ~160 words of Portuguese or English fit.
CHUNK_WORDS = 160
OVERLAP_WORDS = 40

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start_word: int


def chunk_text(
    text: str, chunk_words: int = CHUNK_WORDS, overlap_words: int = OVERLAP_WORDS
) -> list[Chunk]:
    """Windows of `chunk_words` words, each starting `chunk_words - overlap_words` after the last.

    The passages keep the original spacing and line breaks, so a citation shows the text as the
    author wrote it.
    """
    if overlap_words >= chunk_words:
        raise ValueError("overlap must be smaller than the chunk")
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return []
    step = chunk_words - overlap_words
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(start + chunk_words, len(spans))
        chunks.append(
            Chunk(len(chunks), text[spans[start][0] : spans[end - 1][1]], start_word=start)
        )
        if end == len(spans):
            return chunks
        start += step
