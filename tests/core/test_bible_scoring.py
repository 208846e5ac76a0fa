"""The story bible evaluation (bench/bible_eval.py): the hand-made gold fits the novels as the
product splits them, and the scorer counts what it claims to count, on tiny hand-made inputs."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from bench import bible_eval
from bench.bible_set import (
    CORPUS,
    GOLD_DIR,
    MIN_CHAPTERS,
    MIN_FACTS,
    NOVELS,
    PredEntity,
    PredFact,
    Prediction,
    baseline_prediction,
    capitalised_words,
    chapter_names,
    fold,
    gold_from_dict,
    load_gold,
    parse_novel,
    problems,
    restrict,
    score,
    score_chapter,
    score_facts,
    score_merges,
    sum_scores,
)

TINY: dict[str, Any] = {
    "novel": "tiny",
    "language": "pt-BR",
    "entities": [
        {"id": "capitu", "kind": "character", "name": "Capitú", "aliases": ["Capitolina"]},
        {
            "id": "gloria",
            "kind": "character",
            "name": "D. Gloria",
            "aliases": ["Maria da Gloria"],
            "ambiguous": ["Gloria"],
        },
        {"id": "bairro", "kind": "place", "name": "praia da Gloria", "ambiguous": ["Gloria"]},
        {"id": "escobar", "kind": "character", "name": "Escobar", "aliases": ["Ezequiel de Souza"]},
        {"id": "ezequiel", "kind": "character", "name": "Ezequiel"},
        {"id": "deus", "kind": "character", "name": "Deus"},
    ],
    "chapters": [
        {
            "position": 1,
            "title": "Um",
            "characters": ["capitu", "gloria"],
            "places": [],
            "optional": ["deus"],
        },
        {"position": 2, "title": "Dois", "characters": ["gloria", "escobar"], "places": ["bairro"]},
    ],
    "facts": [
        {
            "id": "f1",
            "entity": "capitu",
            "attribute": "age",
            "value": "catorze anos",
            "chapter": 1,
            "keywords": ["quatorze", "catorze"],
        },
        {
            "id": "f2",
            "entity": ["gloria", "escobar"],
            "attribute": "location",
            "value": "Glória",
            "chapter": 2,
            "keywords": ["praia"],
        },
    ],
}


def prediction(
    entities: list[tuple[str, str, str, list[str]]],
    presence: dict[int, list[str]],
    facts: Sequence[PredFact] = (),
) -> Prediction:
    return Prediction(
        entities={k: PredEntity(k, name, kind, aliases) for k, name, kind, aliases in entities},
        presence={p: set(keys) for p, keys in presence.items()},
        facts=list(facts),
    )


def fact(entity: str, chapter: int, value: str, quote: str = "", verbatim: bool = True) -> PredFact:
    return PredFact(entity, chapter, "age", value, quote, verbatim)


# --- the gold files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOVELS))
def test_gold_fits_the_novel_as_the_product_splits_it(name: str) -> None:
    if not (CORPUS / f"{name}.txt").is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS}")
    gold = load_gold(name)
    manuscript = parse_novel(name)
    assert problems(gold, manuscript) == []
    assert len(gold.chapters) >= MIN_CHAPTERS and len(gold.facts) >= MIN_FACTS
    # Spread over the book: each third of it holds at least two annotated chapters.
    n = len(manuscript.chapters)
    thirds = [0, 0, 0]
    for chapter in gold.chapters:
        thirds[min(2, 3 * (chapter.position - 1) // n)] += 1
    assert min(thirds) >= 2, thirds
    # Facts fall in most annotated chapters, and every attribute of the vocabulary is used
    # somewhere in the two files together.
    assert len({f.chapter for f in gold.facts}) >= len(gold.chapters) - 1


def test_gold_uses_the_whole_attribute_vocabulary() -> None:
    used = {f.attribute for name in NOVELS for f in load_gold(name).facts}
    assert used == {
        "appearance",
        "age",
        "occupation",
        "family",
        "location",
        "possession",
        "condition",
        "knowledge",
        "event",
    }


def test_the_validator_catches_each_kind_of_fault() -> None:
    if not (CORPUS / "dom-casmurro.txt").is_file():
        pytest.skip(f"the public-domain corpus is not at {CORPUS}")
    raw = json.loads((GOLD_DIR / "dom-casmurro.json").read_text(encoding="utf-8"))
    raw["chapters"][0]["title"] = "Outro titulo."
    raw["chapters"][1]["characters"].append("ezequiel")  # not named in chapter 5
    raw["facts"][0]["evidence"] = "Bentinho tem quinze annos."
    raw["facts"][1]["keywords"] = ["vinte"]
    raw["facts"][2]["attribute"] = "mood"
    raw["facts"][3]["chapter"] = 4
    raw["entities"][1]["aliases"].append("Bentinho")  # Capitú given Bentinho's name
    found = problems(gold_from_dict(raw), parse_novel("dom-casmurro"))
    assert "chapter 3: title 'Outro titulo.' != the split's 'A denuncia.'" in found
    assert "chapter 5: ezequiel is not named in the text" in found
    assert "dc01: evidence not found verbatim in chapter 3" in found
    assert "dc02: no keyword occurs in the evidence" in found
    assert "dc03: attribute 'mood' not in the vocabulary" in found
    assert "dc04: chapter 4 is not annotated" in found
    assert any(line.startswith("capitu: name 'bentinho' also belongs to") for line in found)
    assert len(found) == 7, found


# --- matching and scoring ----------------------------------------------------------------------


def test_fold_ignores_accents_case_italics_and_spacing() -> None:
    assert fold("  Capitú  _Tartaruga_\nJOSÉ ") == "capitu tartaruga jose"
    assert fold("Ação") == fold("acao")


def test_an_ambiguous_name_counts_only_where_one_listed_entity_has_it() -> None:
    gold = gold_from_dict(TINY)
    names, unclear = chapter_names(gold, gold.chapters[0])
    assert names["gloria"] == "gloria" and names["capitolina"] == "capitu" and not unclear
    names, unclear = chapter_names(gold, gold.chapters[1])
    assert "gloria" not in names and unclear == {"gloria"}
    assert names["praia da gloria"] == "bairro"


def test_entity_recall_precision_and_kind_per_chapter() -> None:
    gold = gold_from_dict(TINY)
    pred = prediction(
        [
            ("a", "Capitu", "place", []),  # Capitú, accent dropped, wrong kind
            ("b", "Deus", "character", []),  # optional: neither right nor wrong
            ("c", "Novembro", "character", []),  # not an entity
            ("d", "Gloria", "character", []),  # ambiguous in chapter 2, D. Gloria in chapter 1
            ("e", "Escobar", "character", ["Ezequiel de Souza"]),
        ],
        {1: ["a", "b", "c", "d"], 2: ["d", "e"]},
    )
    one, two = (score_chapter(gold, c, pred) for c in gold.chapters)
    assert (one.found["characters"], one.required["characters"]) == (2, 2)
    assert (one.correct, one.wrong, one.neutral) == (2, 1, 1)
    assert one.spurious == ["Novembro"]
    assert (one.kind_agrees, one.kind_checked) == (1, 2)
    assert (two.correct, two.wrong, two.neutral) == (1, 0, 1)
    assert two.found == {"characters": 1, "places": 0, "others": 0}
    assert sorted(two.missed) == ["D. Gloria", "praia da Gloria"]
    summary = score(gold, pred).summary()
    assert summary["character_recall"] == 0.75  # 3 of 4
    assert summary["place_recall"] == 0.0
    assert summary["entity_precision"] == 0.75  # 3 right, 1 wrong, 2 neutral
    assert summary["entities_predicted"] == 6


def test_alias_merges_and_wrong_merges() -> None:
    gold = gold_from_dict(TINY)
    together = prediction([("a", "Capitú", "character", ["Capitolina"])], {1: ["a"]})
    assert (score_merges(gold, together).eligible, score_merges(gold, together).merged) == (1, 1)
    apart = prediction(
        [("a", "Capitú", "character", []), ("b", "Capitolina", "character", [])], {1: ["a", "b"]}
    )
    merges = score_merges(gold, apart)
    assert (merges.eligible, merges.merged, merges.wrong_merges) == (1, 0, 0)
    assert merges.split == ["Capitú: capitolina, capitu"]
    # Escobar's first name is also his son's: one entity for both is a wrong merge. An
    # ambiguous name ("Gloria") never makes one.
    merged = prediction(
        [
            ("a", "Escobar", "character", ["Ezequiel"]),
            ("b", "D. Gloria", "character", ["Gloria"]),
        ],
        {2: ["a", "b"]},
    )
    merges = score_merges(gold, merged)
    assert merges.wrong_merges == 1 and merges.wrongly_merged == ["Escobar: Escobar, Ezequiel"]
    assert merges.eligible == 0  # one name found of each gold entity


def test_a_fact_matches_on_entity_chapter_and_a_keyword_in_value_or_quote() -> None:
    gold = gold_from_dict(TINY)
    entities = [
        ("c", "Capitolina", "character", []),
        ("g", "D. Gloria", "character", []),
        ("x", "Gloria", "character", []),
    ]
    facts = [
        fact("c", 1, "Quatorze anos"),  # f1: keyword in the value, case folded
        fact("c", 1, "idade", quote="tinha catórze annos"),  # f1 again, keyword in the quote
        fact("c", 2, "catorze anos"),  # wrong chapter
        fact("g", 2, "mora na Praia", verbatim=False),  # f2 (second of its entities)
        fact("x", 2, "mora na praia"),  # "Gloria" is ambiguous in chapter 2: no entity
    ]
    result = score_facts(gold, prediction(entities, {}, facts))
    assert (result.gold, result.found) == (2, 2)
    assert (result.predicted, result.matched) == (5, 3)
    assert result.attribute_agrees == 2  # the two f1 matches say "age"; f2 is "location"
    assert result.verbatim == 4
    assert len(result.unmatched) == 2 and result.missed == []
    summary = score(gold, prediction(entities, {}, facts)).summary()
    assert summary["fact_recall"] == 1.0
    assert summary["fact_precision_lower_bound"] == 0.6
    assert summary["facts_without_gold"] == 2
    assert summary["verbatim_quotes"] == 0.8


def test_nothing_predicted_gives_zero_recall_and_no_ratio_without_a_denominator() -> None:
    gold = gold_from_dict(TINY)
    summary = score(gold, Prediction()).summary()
    assert summary["character_recall"] == 0.0 and summary["fact_recall"] == 0.0
    assert summary["entity_precision"] is None and summary["verbatim_quotes"] is None
    assert summary["merge_accuracy"] is None
    pooled = sum_scores([score(gold, Prediction()), score(gold, Prediction())]).summary()
    assert pooled["character_recall"] == 0.0 and len(sum_scores([]).chapters) == 0


# --- the baseline ------------------------------------------------------------------------------


def test_baseline_takes_capitalised_words_that_do_not_open_a_sentence() -> None:
    text = (
        "Minha mãe e José Dias. Capitú riu; D. Gloria\nchorou com Mr. Bennet's hat.\n\n"
        '--Padua! disse Bentinho.\n\n"Lizzy," said he, "is with Jane?" Darcy came.'
    )
    # Literally every such word: titles ("D", "Mr") too; "Bennet's" is Bennet; a line break
    # inside a sentence does not start one, a blank line or a dialogue line does.
    assert capitalised_words(text) == [
        "José",
        "Dias",
        "D",
        "Gloria",
        "Mr",
        "Bennet",
        "Bentinho",
        "Jane",
    ]


def test_baseline_prediction_is_one_entity_per_word_present_where_it_occurs() -> None:
    gold = gold_from_dict(TINY)
    pred = baseline_prediction(gold, {1: "Era a filha de Capitú, e Capitú ria.", 2: "E Escobar."})
    assert sorted(e.name for e in pred.entities.values()) == ["Capitú", "Escobar"]
    assert pred.presence == {1: {"capitu"}, 2: {"escobar"}} and pred.facts == []


# --- the in-process runner, on a stand-in extractor ----------------------------------------------


@dataclass(frozen=True)
class _Known:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()


def test_inprocess_runner_carries_known_entities_and_checks_quotes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen_known: list[list[str]] = []

    def extract_chapter(text: str, *, language: str, llm: Any, known: Any) -> Any:
        seen_known.append(sorted(k.name for k in known))
        start = text.index("Capitú")
        return types.SimpleNamespace(
            entities=[("Capitú", "character", ["Capitolina"], 1)],
            facts=[
                ("Capitú", "age", "catorze", text[start : start + 6], start, start + 6, None),
                ("Capitolina", "age", "x", "not there", 0, 9, None),
            ],
        )

    module = types.ModuleType("services.core.bible.extraction")
    module.extract_chapter = extract_chapter  # type: ignore[attr-defined]
    module.KnownEntity = _Known  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "services.core.bible", types.ModuleType("bible"))
    monkeypatch.setitem(sys.modules, "services.core.bible.extraction", module)
    monkeypatch.setattr(sys.modules["services.core.bible"], "extraction", module, raising=False)
    gold = gold_from_dict(TINY)
    pred, info = bible_eval.run_inprocess(gold, {2: "E Capitú.", 1: "Capitú ri."}, llm=None)
    assert seen_known == [[], ["Capitú"]]  # chapter 1 first, then 2 knowing Capitú
    assert len(pred.entities) == 1 and pred.presence == {1: {"e1"}, 2: {"e1"}}
    assert [f.verbatim for f in pred.facts] == [True, False, True, False]
    assert score(gold, pred).summary()["verbatim_quotes"] == 0.5
    assert set(info["per_chapter"]) == {1, 2}


def test_names_stored_with_markup_or_a_possessive_are_reported() -> None:
    gold = gold_from_dict(TINY)
    pred = prediction(
        [
            ("a", "Tartaruga_", "character", ["Capitú"]),
            ("b", "Mr. Jones's", "character", ["Londres--sua"]),
            ("c", "Capitolina", "character", ["O'Brien", "D'Ávila"]),
        ],
        {1: ["a", "b", "c"]},
    )
    scores = score(gold, pred)
    assert scores.malformed == ["Londres--sua", "Mr. Jones's", "Tartaruga_"]
    assert scores.summary()["malformed_names"] == 3
    assert scores.chapters[0].predicted == ["Tartaruga_", "Mr. Jones's", "Capitolina"]


def test_restricting_the_gold_keeps_the_chosen_chapters_and_their_facts() -> None:
    gold = restrict(gold_from_dict(TINY), [2])
    assert [c.position for c in gold.chapters] == [2] and [f.id for f in gold.facts] == ["f2"]
    assert score(gold, Prediction()).facts.gold == 1
