"""Chunking keeps every word, overlaps windows, and preserves the author's spacing."""

from __future__ import annotations

import pytest

from services.core.memory.chunking import chunk_text


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
