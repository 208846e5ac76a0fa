"""Chunking keeps every word, overlaps windows, and preserves the author's spacing."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.memory.chunking import chapter_chunks, chunk_text
from services.core.memory.embeddings import MiniLMEmbedder


def test_windows_overlap_and_cover_every_word() -> None:
    words = [f"w{i}" for i in range(1000)]
    chunks = chunk_text(" ".join(words), chunk_words=160, overlap_words=40)
    assert [c.start_word for c in chunks] == list(range(0, 1000 - 40, 120))
    assert all(len(c.text.split()) <= 160 for c in chunks)
    assert chunks[-1].text.split()[-1] == "w999"
    covered = {w for c in chunks for w in c.text.split()}
    assert covered == set(words)
    assert chunks[1].text.split()[:40] == chunks[0].text.split()[-40:]


def test_short_and_empty_texts() -> None:
    assert chunk_text("   \n ") == []
    (only,) = chunk_text("Capitu tinha\n\nolhos de ressaca.")
    assert only.text == "Capitu tinha\n\nolhos de ressaca."
    with pytest.raises(ValueError):
        chunk_text("a b c", chunk_words=10, overlap_words=10)


def test_a_token_counter_bounds_each_window_and_keeps_every_word() -> None:
    # Every word costs 3 pieces, so 60 pieces hold 20 words; overlap is capped at a sixth.
    words = [f"w{i}" for i in range(100)]
    chunks = chunk_text(
        " ".join(words),
        chunk_words=160,
        overlap_words=40,
        count_tokens=lambda ws: [3] * len(ws),
        max_tokens=60,
    )
    assert all(len(c.text.split()) == 20 for c in chunks[:-1])
    assert [c.start_word for c in chunks[:3]] == [0, 17, 34]
    assert {w for c in chunks for w in c.text.split()} == set(words)
    assert chunks[-1].text.split()[-1] == "w99"


def test_a_word_longer_than_the_budget_still_makes_progress() -> None:
    chunks = chunk_text(
        "curto enorme curto",
        count_tokens=lambda ws: [500 if w == "enorme" else 1 for w in ws],
        max_tokens=10,
    )
    assert [c.text for c in chunks] == ["curto", "enorme", "curto"]


def test_no_passage_of_a_real_book_is_cut_by_the_embedding_model() -> None:
    """MiniLM reads 256 word pieces: every passage of Dom Casmurro must fit, nothing dropped."""
    corpus = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dom-casmurro.txt"
    if not corpus.is_file():
        pytest.skip(f"the public-domain corpus is not at {corpus.parent}")
    embedder = MiniLMEmbedder()
    text = corpus.read_text(encoding="utf-8")[:60_000]
    chunks = chapter_chunks("Dom Casmurro", text, embedder.count_tokens)
    tokenizer = embedder._counter
    lengths = [len(tokenizer.encode(c.text).ids) for c in chunks]  # with [CLS] and [SEP]
    assert max(lengths) <= 256, max(lengths)
    covered = " ".join(c.text for c in chunks).split()
    assert set(covered) == set(f"Dom Casmurro\n\n{text}".split())
    # Without the counter most passages of this Portuguese overflow the model.
    word_bound = chapter_chunks("Dom Casmurro", text)
    overflowing = [c for c in word_bound if len(tokenizer.encode(c.text).ids) > 256]
    assert len(overflowing) > len(word_bound) // 2
