"""Degenerate repetition in generated text: measures, and a guard that watches a stream.

A small model at the end of its attention falls into loops ("O farol superior O farol superior
…") and runs to max_tokens. The guard watches the words as they arrive and says when the recent
ones are mostly n-grams already seen in the same window: prose, lists with a fixed template,
refrains and anaphora stay far below the thresholds (see tests/core/llm/test_repetition.py), a
loop reaches them within a few dozen words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
# Below this many words an answer is too short to call a loop.
MIN_WORDS_JUDGED = 24


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram_share(text: str, n: int = 4) -> float:
    """Share of the text's n-grams that repeat an earlier one (0 = none, ~1 = one phrase looped)."""
    grams = _ngrams(words(text), n)
    if not grams:
        return 0.0
    return (len(grams) - len(set(grams))) / len(grams)


def distinct_n(text: str, n: int = 2) -> float:
    """Distinct n-grams over all n-grams (1 = no n-gram twice); 0 for text too short to have one."""
    grams = _ngrams(words(text), n)
    return len(set(grams)) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class Window:
    """`size` most recent words; a loop when at least `threshold` of their n-grams repeat."""

    size: int
    threshold: float


@dataclass(frozen=True)
class GuardConfig:
    n: int = 4
    # A short window catches short loops fast; the long one catches a long sentence said again
    # and again (a 60-word period fills the short window with only two copies).
    windows: tuple[Window, ...] = (Window(60, 0.5), Window(200, 0.55))
    check_every_words: int = 6
    # Loops without spaces ("!!!!…", "—————", "abcabc…") have no words to count.
    char_tail: int = 160
    max_char_period: int = 40


@dataclass(frozen=True)
class LoopVerdict:
    """Where the loop starts: `keep_chars` of the text precede it (one copy of the repeated
    phrase kept)."""

    keep_chars: int
    share: float
    window: int


class LoopGuard:
    """Fed the streamed pieces; `triggered` once the recent text is a loop."""

    def __init__(self, config: GuardConfig | None = None) -> None:
        self.config = config or GuardConfig()
        self.text = ""
        self.verdict: LoopVerdict | None = None
        self._spans: list[tuple[int, int]] = []
        self._tokens: list[str] = []
        self._scanned = 0  # characters already split into words (the last word may be partial)
        self._checked_at = 0

    @property
    def triggered(self) -> bool:
        return self.verdict is not None

    def feed(self, piece: str) -> bool:
        if self.verdict is not None:
            return True
        self.text += piece
        self._scan()
        if len(self._tokens) - self._checked_at >= self.config.check_every_words:
            self._checked_at = len(self._tokens)
            self.verdict = self._word_loop()
        if self.verdict is None:
            self.verdict = self._char_loop()
        return self.verdict is not None

    def finish(self) -> LoopVerdict | None:
        """At the end of the stream: the tail may have looped since the last check."""
        if self.verdict is None:
            self._scan(final=True)
            self.verdict = self._word_loop(whole=True) or self._char_loop()
        return self.verdict

    def _scan(self, *, final: bool = False) -> None:
        # Words are taken up to the last whitespace only: a token boundary may split a word.
        end = len(self.text) if final else max(self.text.rfind(" "), self.text.rfind("\n")) + 1
        if end <= self._scanned:
            return
        for match in _WORD.finditer(self.text, self._scanned, end):
            self._spans.append(match.span())
            self._tokens.append(match.group().lower())
        self._scanned = end

    def _word_loop(self, *, whole: bool = False) -> LoopVerdict | None:
        n = self.config.n
        for window in self.config.windows:
            # A short answer that is one phrase over and over is judged whole at the end.
            judged_whole = whole and len(self._tokens) >= MIN_WORDS_JUDGED
            if len(self._tokens) < window.size and not (
                judged_whole and window is self.config.windows[0]
            ):
                continue
            start = max(0, len(self._tokens) - window.size)
            grams = _ngrams(self._tokens[start:], n)
            counts = Counter(grams)
            share = (len(grams) - len(counts)) / len(grams)
            if share >= window.threshold:
                repeated = {g for g, c in counts.items() if c > 1}
                return LoopVerdict(self._cut(repeated), round(share, 3), window.size)
        return None

    def _cut(self, repeated: set[tuple[str, ...]]) -> int:
        """Keep the text up to the second time the loop's first phrase begins."""
        n = self.config.n
        tokens = self._tokens
        first: dict[tuple[str, ...], int] = {}
        for i in range(len(tokens) - n + 1):
            gram = tuple(tokens[i : i + n])
            if gram in repeated and gram not in first:
                first[gram] = i
        begin = min(first.values())
        gram = tuple(tokens[begin : begin + n])
        for j in range(begin + 1, len(tokens) - n + 1):
            if tuple(tokens[j : j + n]) == gram:
                return self._spans[j][0]
        return self._spans[begin][0]

    def _char_loop(self) -> LoopVerdict | None:
        tail_len = self.config.char_tail
        if len(self.text) < tail_len:
            return None
        tail = self.text[-tail_len:]
        for period in range(1, self.config.max_char_period + 1):
            if all(tail[i] == tail[i + period] for i in range(tail_len - period)):
                # Walk back to where the periodic run starts, keep one period of it.
                start = len(self.text) - tail_len
                while start > 0 and self.text[start - 1] == self.text[start - 1 + period]:
                    start -= 1
                return LoopVerdict(start + period, 1.0, 0)
        return None


def text_before_loop(text: str, verdict: LoopVerdict) -> str:
    """The text the author gets: what came before the loop, without a dangling half-word."""
    return text[: verdict.keep_chars].rstrip()


def find_loop(text: str, config: GuardConfig | None = None) -> LoopVerdict | None:
    """The guard run over a whole text at once (as if streamed word by word)."""
    guard = LoopGuard(config)
    for piece in re.findall(r"\S+\s*|\s+", text):
        if guard.feed(piece):
            return guard.verdict
    return guard.finish()
