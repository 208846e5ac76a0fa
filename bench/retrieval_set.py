"""The retrieval evaluation's question sets: the corpus novels parsed as the product imports them,
and the checks every question must pass (used by bench/retrieval_eval.py and by the unit test
tests/core/memory/test_retrieval_questions.py).

A question set is `bench/retrieval_questions/<novel>.json`: a list of
    {"id", "question", "gold_positions": [1-based chapter positions in the product's order],
     "gold_titles": [those chapters' titles], "evidence": "verbatim quote from a gold chapter"}
The questions are paraphrased: they may share names and common words with the answer, never a
run of 4 words, so a retriever has to find the meaning, not the author's exact phrasing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from services.core.manuscripts.parsing import Manuscript, parse_manuscript

QUESTIONS_DIR = Path(__file__).resolve().parent / "retrieval_questions"
# The corpus sits in `shared/corpus` beside the checkout (a worktree has it one level further up).
CORPUS = next(
    (
        parent / "shared" / "corpus"
        for parent in Path(__file__).resolve().parents
        if (parent / "shared" / "corpus").is_dir()
    ),
    Path("/work/shared/corpus"),
)
NOVELS = {"dom-casmurro": "pt-BR", "pride-and-prejudice": "en"}
MIN_QUESTIONS = 40
MAX_EVIDENCE_CHARS = 200
COPIED_NGRAM = 4  # a question may not repeat this many consecutive words of its evidence

# Letters and digits only: `_underscores_` mark italics in the corpus and must not hide a copy.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold_positions: tuple[int, ...]
    gold_titles: tuple[str, ...]
    evidence: str


def parse_novel(name: str, corpus: Path = CORPUS) -> Manuscript:
    """The novel split into chapters exactly as importing `<name>.txt` in the product does."""
    path = corpus / f"{name}.txt"
    return parse_manuscript(path.name, path.read_bytes(), language=NOVELS[name])


def load_questions(name: str, directory: Path = QUESTIONS_DIR) -> list[Question]:
    raw = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    return [
        Question(
            id=str(item["id"]),
            question=str(item["question"]),
            gold_positions=tuple(int(p) for p in item["gold_positions"]),
            gold_titles=tuple(str(t) for t in item["gold_titles"]),
            evidence=str(item["evidence"]),
        )
        for item in raw
    ]


def squash(text: str) -> str:
    """Whitespace-normalised text: quotes are compared with the chapter on this form."""
    return " ".join(text.split())


def ngrams(text: str, n: int = COPIED_NGRAM) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def problems(questions: list[Question], manuscript: Manuscript) -> list[str]:
    """Everything wrong with a question set, one line each (empty when it is sound)."""
    found: list[str] = []
    chapters = manuscript.chapters
    texts = [squash(c.text) for c in chapters]
    if len(questions) < MIN_QUESTIONS:
        found.append(f"only {len(questions)} questions; at least {MIN_QUESTIONS} are needed")
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            found.append(f"{q.id}: duplicate id")
        seen.add(q.id)
        if not q.question.strip() or not q.gold_positions:
            found.append(f"{q.id}: empty question or no gold chapter")
            continue
        bad = [p for p in q.gold_positions if not 1 <= p <= len(chapters)]
        if bad:
            found.append(f"{q.id}: positions {bad} outside 1..{len(chapters)}")
            continue
        titles = tuple(chapters[p - 1].title for p in q.gold_positions)
        if titles != q.gold_titles:
            found.append(f"{q.id}: gold_titles {q.gold_titles} != the chapters' {titles}")
        if len(q.evidence) > MAX_EVIDENCE_CHARS:
            found.append(f"{q.id}: evidence longer than {MAX_EVIDENCE_CHARS} characters")
        evidence = squash(q.evidence)
        if not evidence or not any(evidence in texts[p - 1] for p in q.gold_positions):
            found.append(f"{q.id}: evidence not found verbatim in chapters {q.gold_positions}")
        copied = ngrams(q.question) & ngrams(q.evidence)
        if copied:
            found.append(f"{q.id}: question copies the evidence: {sorted(copied)}")
    return found
