"""The continuity evaluation (bench/continuity_eval.py): the shipped manuscripts fit their
annotations as the product splits them, the validator catches what it claims to catch, and the
scorer and the baseline count what they claim to count, on tiny hand-made inputs."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import continuity_eval
from bench import continuity_set as cs
from bench.bible_set import CORPUS
from bench.continuity_set import (
    Build,
    Citation,
    Edit,
    Finding,
    annotation_from_dict,
    baseline_findings,
    best_match,
    build_excerpt,
    content_words,
    covers,
    load_annotation,
    matches,
    names,
    parse,
    problems,
    score,
    sum_scores,
)
from services.core.manuscripts.parsing import parse_manuscript

TINY_MD = """# Tiny

## One

Anna has green eyes and works as a baker. Nobody in Vell may sing after dark: that is the law.
It is May. Anna is nine.

## Two

Anna is kind to everyone she meets. Her cat sleeps on the oven.

## Three

A week later, in March, Anna has brown eyes. Anna sang all night in the square.
Anna is cruel to everyone she meets. Anna turned ten on her birthday.
"""


def side(chapter: int, quote: str, also: list[int] | None = None) -> dict[str, Any]:
    return {"chapter": chapter, "quote": quote, **({"also": also} if also else {})}


def item(
    id: str, type: str, kind: str, a: dict[str, Any], b: dict[str, Any], control: bool = False
) -> dict[str, Any]:
    return {
        "id": id,
        "control": control,
        "type": type,
        "kind": kind,
        "entity": "Anna",
        "aliases": [],
        "attribute": "x",
        "sides": [a, b],
    }


TINY: dict[str, Any] = {
    "id": "tiny",
    "language": "en",
    "file": "tiny.md",
    "source": "original",
    "chapters": 3,
    "items": [
        item("e1", "fact", "appearance", side(1, "Anna has green eyes"), side(3, "brown eyes")),
        item("e2", "timeline", "date_order", side(1, "It is May."), side(3, "in March")),
        item(
            "e3",
            "characterisation",
            "trait_reversal",
            side(2, "Anna is kind to everyone she meets."),
            side(3, "Anna is cruel to everyone she meets."),
        ),
        item(
            "e4",
            "world_rule",
            "rule_broken",
            side(1, "Nobody in Vell may sing after dark", [2]),
            side(3, "Anna sang all night in the square."),
        ),
        item(
            "c1",
            "fact",
            "birthday",
            side(1, "Anna is nine."),
            side(3, "Anna turned ten on her birthday."),
            control=True,
        ),
    ],
}


def tiny(**changes: Any) -> tuple[cs.Annotation, Any]:
    raw = json.loads(json.dumps(TINY))
    raw.update(changes)
    manuscript = parse_manuscript("tiny.md", TINY_MD.encode(), language="en")
    return annotation_from_dict(raw), manuscript


@pytest.fixture
def small_minima(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny manuscript is held to tiny minima (the shipped ones to the real ones)."""
    monkeypatch.setattr(cs, "MINIMA", {"original": (4, 1), "corpus": (4, 1)})
    monkeypatch.setattr(cs, "ORIGINAL_CHAPTERS", (3, 3))
    monkeypatch.setattr(cs, "ORIGINAL_WORDS", (5, 100))
    monkeypatch.setattr(cs, "ORIGINAL_ERROR_GROUPS", ())
    monkeypatch.setattr(cs, "CONTROL_KINDS", ("birthday",))


def finding(*cites: tuple[int, str], entity: str = "", explanation: str = "") -> Finding:
    return Finding(
        citations=tuple(Citation(c, q) for c, q in cites), entity=entity, explanation=explanation
    )


# --- the shipped set ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", names())
def test_shipped_manuscripts_validate_against_the_products_split(name: str) -> None:
    annotation = load_annotation(name)
    corpus = CORPUS if (CORPUS / "dom-casmurro.txt").is_file() else None
    if annotation.source == "corpus" and corpus is None:
        pytest.skip(f"the public-domain corpus is not at {CORPUS}")
    manuscript = parse(annotation)
    assert manuscript.split == "markdown-h2"
    assert problems(annotation, manuscript, corpus=corpus) == []


def test_the_set_holds_two_originals_and_two_excerpts_in_both_languages() -> None:
    annotations = [load_annotation(n) for n in names()]
    by = {(a.source, a.language) for a in annotations}
    assert by == {("original", "en"), ("original", "pt-BR"), ("corpus", "en"), ("corpus", "pt-BR")}
    for a in annotations:
        errors, controls = cs.MINIMA[a.source]
        assert len(a.errors) >= errors and len(a.controls) >= controls
        assert {i.type for i in a.errors} == set(cs.TYPES)


# --- the validator -----------------------------------------------------------------------------


def test_a_sound_tiny_annotation_has_no_problems(small_minima: None) -> None:
    annotation, manuscript = tiny()
    assert problems(annotation, manuscript) == []


def test_the_validator_catches_each_kind_of_fault(small_minima: None) -> None:
    raw = json.loads(json.dumps(TINY))
    raw["chapters"] = 4
    raw["items"][0]["sides"][1]["quote"] = "Her cat sleeps on the oven."  # in chapter 2
    raw["items"][1]["type"] = "plot"  # not a contract type
    raw["items"][2]["type"] = "fact"  # a trait reversal is characterisation
    raw["items"][3]["sides"] = [side(3, "Anna sang all night"), side(1, "It is May.")]
    raw["items"][4]["sides"][1]["chapter"] = 1
    raw["items"].append(dict(raw["items"][0]))  # a duplicate id
    annotation = annotation_from_dict(raw)
    manuscript = parse_manuscript("tiny.md", TINY_MD.encode(), language="en")
    found = "\n".join(problems(annotation, manuscript))
    assert "the split gives 3 chapters, the annotation says 4" in found
    assert "not in chapter 3 (it is in [2])" in found
    assert "type 'plot' not in the contract's" in found
    assert "a trait_reversal is a characterisation, not fact" in found
    assert "e4: the planted side (chapter 1) comes first" in found
    assert "c1: both sides in chapter 1" in found
    assert "e1: duplicate id" in found


def test_the_validator_wants_the_minimum_numbers_and_every_kind() -> None:
    annotation, manuscript = tiny()
    found = "\n".join(problems(annotation, manuscript))
    assert "only 4 planted errors; 12 are needed" in found
    assert "no planted error of kind after_death/after_departure" in found
    assert "no control of kind" in found and "rumour_denied" in found


def test_an_excerpt_is_rebuilt_from_the_corpus_with_its_edits(tmp_path: Path) -> None:
    novel = "Chapter 1\n\nAnna walked home. She was tired.\n\nChapter 2\n\nBen slept.\n"
    (tmp_path / "dom-casmurro.txt").write_text(novel, "utf-8")
    build = Build(
        "dom-casmurro",
        1,
        2,
        "Tiny excerpt",
        (
            Edit(1, "after", "Anna has blue eyes.", anchor="walked   home."),
            Edit(2, "start", "It was May."),
            Edit(2, "end", "Ben woke."),
        ),
    )
    text = build_excerpt(build, tmp_path)
    split = parse_manuscript("x.md", text.encode(), language="pt-BR")
    assert [c.title for c in split.chapters] == ["Chapter 1", "Chapter 2"]
    assert split.chapters[0].text == "Anna walked home. Anna has blue eyes. She was tired."
    assert split.chapters[1].text == "It was May.\n\nBen slept.\n\nBen woke."
    with pytest.raises(ValueError, match="occurs 0 times"):
        build_excerpt(
            Build("dom-casmurro", 1, 1, "t", (Edit(1, "after", "x", "nowhere"),)), tmp_path
        )


# --- matching and scores -----------------------------------------------------------------------


def test_a_finding_must_cite_both_chapters_and_name_the_entity_or_share_words() -> None:
    annotation, _ = tiny()
    eyes = annotation.items[0]
    assert matches(finding((1, "green eyes"), (3, "brown eyes"), entity="Anna"), eyes)
    assert matches(finding((1, "ANNA"), (3, "x")), eyes)  # folded name in a quote
    assert not matches(finding((1, "green eyes"), (2, "x"), entity="Anna"), eyes)  # wrong chapter
    assert not matches(finding((1, "x"), (1, "y"), entity="Anna"), eyes)  # one chapter twice
    # No name: two shared content words will do, one will not, and a shared name does not count.
    assert matches(finding((1, "her green eyes"), (3, "now brown")), eyes)
    assert not matches(finding((1, "green"), (3, "something")), eyes)
    assert content_words("Anna has green eyes") == {"green", "eyes"}
    # A side's `also` chapters stand for it.
    rule = annotation.items[3]
    assert matches(finding((2, "x"), (3, "y"), entity="anna"), rule)
    assert covers(finding((2, "x"), (3, "y")), rule)


def test_recall_false_alarms_precision_and_chapters() -> None:
    annotation, _ = tiny()
    findings = [
        finding((1, "green eyes"), (3, "brown eyes"), entity="Anna"),  # e1
        finding((1, "green eyes"), (3, "brown eyes"), entity="Anna"),  # e1 again
        finding((2, "kind"), (3, "cruel"), entity="Anna"),  # e3 rather than e4 (by its also)
        finding((1, "Anna is nine."), (3, "Anna turned ten")),  # the control rather than e1/e2
        finding((1, "x"), (2, "y"), entity="Ben"),  # nothing
    ]
    # Each finding earns one item, the one it matches best: the e1 finding does not also earn
    # e2 and e4 (same entity, same chapters).
    assert [getattr(best_match(f, annotation.items), "id", None) for f in findings] == [
        "e1",
        "e1",
        "e3",
        "c1",
        None,
    ]
    scores = score(annotation, findings)
    summary = scores.summary()
    assert scores.found == ["e1", "e3"]
    assert summary["recall"] == 0.5
    assert scores.alarms == ["c1"] and summary["false_alarm_rate"] == 1.0
    assert summary["precision_lower_bound"] == 0.6
    assert summary["right_chapters"] == 0.8  # the first four cite a planted pair
    assert summary["recall_by_type"]["fact"] == 1.0
    assert summary["recall_by_type"]["timeline"] == 0.0
    only_one = score(annotation, findings[:1])
    assert only_one.summary()["recall"] == 0.25 and only_one.missed[0].startswith("e2")
    nothing = score(annotation, []).summary()
    assert nothing["recall"] == 0.0 and nothing["precision_lower_bound"] is None
    pooled = sum_scores([scores, only_one]).summary()
    assert pooled["errors"] == 8 and pooled["found"] == 3 and pooled["findings"] == 6


def test_baseline_flags_a_name_with_different_colour_or_number_words() -> None:
    texts = [
        "They said that Anna had green eyes. Then Ben arrived with four dogs.",
        "Later, Ben came back. They saw that Anna had brown eyes and Ben had four dogs.",
    ]
    found = baseline_findings(texts)
    assert len(found) == 1
    (only,) = found
    assert only.entity == "anna" and only.attribute == "colour"
    assert [c.chapter for c in only.citations] == [1, 2]
    assert "green" in only.citations[0].quote and "brown" in only.citations[1].quote
    assert baseline_findings([texts[0], texts[0]]) == []


def test_baseline_on_the_tiny_manuscript_finds_the_eye_colour() -> None:
    annotation, manuscript = tiny()
    texts = [
        c.text.replace("Anna has", "and Anna has").replace("A week", "so a week")
        for c in manuscript.chapters
    ]
    scores = score(annotation, baseline_findings(texts))
    assert "e1" in scores.found


# --- the API runner ----------------------------------------------------------------------------


def fake_api(
    monkeypatch: pytest.MonkeyPatch, audit: int, findings: list[dict[str, Any]]
) -> list[str]:
    """httpx.Client answering like the API for one import, with `audit` as the status of
    POST /jobs for continuity_check."""
    calls: list[str] = []
    chapters = [{"id": f"c{i}", "title": t} for i, t in enumerate(("One", "Two", "Three"), 1)]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls.append(f"{request.method} {path}")
        if request.method == "POST" and path == "/books":
            return httpx.Response(201, json={"id": "b1"})
        if path == "/books/b1/import":
            assert b"## One" in request.content
            return httpx.Response(202, json={"id": "j1", "job_id": "j1"})
        if path == "/jobs" and request.method == "GET":
            return httpx.Response(200, json={"items": [{"status": "succeeded"}]})
        if path == "/books/b1/chapters":
            return httpx.Response(200, json=chapters)
        if path == "/jobs" and request.method == "POST":
            body = json.loads(request.content)
            kind = body["kind"]
            if kind == "continuity_check" and audit == 400:
                return httpx.Response(422, json={"detail": "unknown job kind 'continuity_check'"})
            if "book_id" not in body:  # the probe
                return httpx.Response(422, json={"detail": "this kind needs a book_id"})
            if kind == "continuity_check" and audit != 202:
                return httpx.Response(audit, json={"detail": "unknown job kind"})
            return httpx.Response(202, json={"id": kind})
        if path.startswith("/jobs/"):
            result = {"findings": findings, "candidates": 3} if "continuity" in path else {}
            return httpx.Response(200, json={"status": "succeeded", "result": result})
        if path == "/books/b1/continuity/findings":
            return httpx.Response(200, json={"items": findings, "total": len(findings)})
        return httpx.Response(404, json={"detail": "no"})

    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", partial(real, transport=httpx.MockTransport(handler)))
    return calls


def test_api_mode_says_clearly_when_the_audit_is_not_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    annotation, manuscript = tiny()
    monkeypatch.setattr(continuity_eval, "manuscript_bytes", lambda a: TINY_MD.encode())
    texts = [c.text for c in manuscript.chapters]
    # An unknown kind is found out before a book is created...
    calls = fake_api(monkeypatch, audit=400, findings=[])
    with pytest.raises(SystemExit, match=r"continuity audit \(issue 16\) is not in this API yet"):
        continuity_eval.run_api(annotation, texts, "http://api", None, True)
    assert "POST /books" not in calls
    # ... and a refusal at the real submission says the same.
    fake_api(monkeypatch, audit=422, findings=[])
    with pytest.raises(SystemExit, match=r"continuity audit \(issue 16\) is not in this API yet"):
        continuity_eval.run_api(annotation, texts, "http://api", None, True)


def test_api_mode_maps_citations_to_positions_and_scores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = {
        "id": "f1",
        "type": "fact",
        "entity": "Anna",
        "attribute": "eyes",
        "explanation": "green then brown",
        "citations": [
            {"chapter_id": "c1", "chapter_position": 9, "quote": "green eyes"},
            {"chapter_id": "gone", "chapter_position": 3, "quote": "brown eyes"},
        ],
    }
    calls = fake_api(monkeypatch, audit=202, findings=[raw])
    annotation, manuscript = tiny()
    monkeypatch.setattr(continuity_eval, "manuscript_bytes", lambda a: TINY_MD.encode())
    texts = [c.text for c in manuscript.chapters]
    found, info = continuity_eval.run_api(annotation, texts, "http://api", None, False)
    assert len(found) == 1  # the job result and the listing are the same finding
    assert [c.chapter for c in found[0].citations] == [1, 3]
    assert score(annotation, found).found == ["e1"]
    assert info["job"] == {"candidates": 3}
    assert "POST /books/b1/import" in calls
