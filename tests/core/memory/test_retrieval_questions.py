"""The retrieval evaluation's question sets are sound: enough questions per novel, gold chapters
that exist in the product's own parse, evidence quoted verbatim from a gold chapter, and
questions paraphrased rather than copied from that evidence."""

from __future__ import annotations

import pytest

from bench.retrieval_set import (
    CORPUS,
    MIN_QUESTIONS,
    NOVELS,
    Question,
    load_questions,
    ngrams,
    parse_novel,
    problems,
)


@pytest.mark.parametrize("name", sorted(NOVELS))
def test_question_set_is_valid_against_the_parsed_novel(name: str) -> None:
    if not (CORPUS / f"{name}.txt").is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS}")
    questions = load_questions(name)
    assert len(questions) >= MIN_QUESTIONS
    manuscript = parse_novel(name)
    assert problems(questions, manuscript) == []
    # Spread over the whole book: each third of it holds at least a fifth of the questions.
    n = len(manuscript.chapters)
    thirds = [0, 0, 0]
    for q in questions:
        thirds[min(2, 3 * (q.gold_positions[0] - 1) // n)] += 1
    assert min(thirds) >= len(questions) // 5, thirds


def test_the_validator_catches_each_kind_of_fault() -> None:
    if not (CORPUS / "dom-casmurro.txt").is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS}")
    manuscript = parse_novel("dom-casmurro")
    good = Question(
        "ok", "Onde o narrador explica o apelido?", (1,), ("Do titulo.",), "acabou alcunhando-me"
    )
    assert problems([good] * MIN_QUESTIONS, manuscript) == ["ok: duplicate id"] * (
        MIN_QUESTIONS - 1
    )
    faults = [
        Question("a", "Onde?", (999,), ("x",), "alcunhando"),
        Question("b", "Onde?", (2,), ("Do livro.",), "acabou alcunhando-me"),
        Question("c", "Onde?", (1,), ("Do livro.",), "acabou alcunhando-me"),
        Question(
            "d",
            "Onde acabou alcunhando-me Dom Casmurro?",
            (1,),
            ("Do titulo.",),
            "acabou alcunhando-me _Dom Casmurro._",
        ),
        Question("e", "Onde?", (1,), ("Do titulo.",), "x" * 201),
    ]
    found = problems(faults, manuscript)
    assert any(line.startswith("a: positions [999]") for line in found)
    assert any(line.startswith("b: evidence not found") for line in found)
    assert any(line.startswith("c: gold_titles") for line in found)
    assert any(line.startswith("d: question copies") for line in found)
    assert any(line.startswith("e: evidence longer") for line in found)
    assert any("only 5 questions" in line for line in found)


def test_ngrams_ignore_case_and_punctuation() -> None:
    assert ngrams("Capitu, tinha OLHOS de ressaca!", 4) == {
        ("capitu", "tinha", "olhos", "de"),
        ("tinha", "olhos", "de", "ressaca"),
    }
