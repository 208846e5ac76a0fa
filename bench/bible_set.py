"""The story bible evaluation's gold data and its scorer (used by bench/bible_eval.py and by the
unit tests tests/core/test_bible_scoring.py).

A gold file is `bench/bible_gold/<novel>.json`, annotated by hand on the novel as the product
splits it (`parse_manuscript`):
    entities  [{"id", "kind": character|place|object|group, "name", "aliases": [...],
                "ambiguous": [names that may also mean another entity]}]
    chapters  [{"position": 1-based position in the split, "title", "characters": [ids],
                "places": [ids], "others": [ids], "optional": [ids]}]
    facts     [{"id", "entity": id or [ids], "attribute", "value", "chapter": position,
                "keywords": [any one of them must occur in an extracted value or quote],
                "evidence": "the text that states it, verbatim (whitespace-normalised)"}]
A chapter lists the entities named in its text. `optional` ones are neither required nor
counted against a system (God, a historical figure, a family as a group). Names are compared
folded: accents stripped, case folded, whitespace squashed.

The scorer works on a `Prediction` (book-level entities with their names, which chapters each
appears in, and facts with their chapter, value, quote and whether the quote was verbatim), so
any system (the in-process extractor, the HTTP API, the capitalised-word baseline) is scored the
same way.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.core.manuscripts.parsing import Manuscript, parse_manuscript

GOLD_DIR = Path(__file__).resolve().parent / "bible_gold"
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
KINDS = ("character", "place", "object", "group")
ATTRIBUTES = (
    "appearance",
    "age",
    "occupation",
    "family",
    "location",
    "possession",
    "condition",
    "knowledge",
    "event",
)
MIN_CHAPTERS = 10
MIN_FACTS = 30


def fold(text: str) -> str:
    """Accents stripped, case folded, `_italics_` marks dropped, whitespace squashed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("_", ""))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def squash(text: str) -> str:
    return " ".join(text.split())


# --- gold ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldEntity:
    id: str
    kind: str
    name: str
    aliases: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """Its unambiguous names, folded."""
        return frozenset(fold(n) for n in (self.name, *self.aliases))

    @property
    def ambiguous_names(self) -> frozenset[str]:
        return frozenset(fold(n) for n in self.ambiguous)


@dataclass(frozen=True)
class GoldChapter:
    position: int
    title: str
    characters: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    others: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return (*self.characters, *self.places, *self.others)

    @property
    def listed(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


@dataclass(frozen=True)
class GoldFact:
    id: str
    entities: tuple[str, ...]
    attribute: str
    value: str
    chapter: int
    keywords: tuple[str, ...]
    evidence: str = ""


@dataclass(frozen=True)
class Gold:
    novel: str
    language: str
    entities: dict[str, GoldEntity]
    chapters: tuple[GoldChapter, ...]
    facts: tuple[GoldFact, ...]

    def chapter(self, position: int) -> GoldChapter | None:
        return next((c for c in self.chapters if c.position == position), None)


def gold_from_dict(raw: dict[str, Any]) -> Gold:
    entities = {
        str(e["id"]): GoldEntity(
            id=str(e["id"]),
            kind=str(e["kind"]),
            name=str(e["name"]),
            aliases=tuple(str(a) for a in e.get("aliases", ())),
            ambiguous=tuple(str(a) for a in e.get("ambiguous", ())),
        )
        for e in raw["entities"]
    }
    chapters = tuple(
        GoldChapter(
            position=int(c["position"]),
            title=str(c["title"]),
            characters=tuple(c.get("characters", ())),
            places=tuple(c.get("places", ())),
            others=tuple(c.get("others", ())),
            optional=tuple(c.get("optional", ())),
        )
        for c in raw["chapters"]
    )
    facts = tuple(
        GoldFact(
            id=str(f["id"]),
            entities=tuple([f["entity"]] if isinstance(f["entity"], str) else f["entity"]),
            attribute=str(f["attribute"]),
            value=str(f["value"]),
            chapter=int(f["chapter"]),
            keywords=tuple(str(k) for k in f["keywords"]),
            evidence=str(f.get("evidence", "")),
        )
        for f in raw["facts"]
    )
    return Gold(str(raw["novel"]), str(raw["language"]), entities, chapters, facts)


def restrict(gold: Gold, positions: Iterable[int]) -> Gold:
    """The gold of some of its chapters only (a quick run on fewer chapters)."""
    keep = set(positions)
    return dataclasses.replace(
        gold,
        chapters=tuple(c for c in gold.chapters if c.position in keep),
        facts=tuple(f for f in gold.facts if f.chapter in keep),
    )


def load_gold(name: str, directory: Path = GOLD_DIR) -> Gold:
    return gold_from_dict(json.loads((directory / f"{name}.json").read_text(encoding="utf-8")))


def parse_novel(name: str, corpus: Path = CORPUS) -> Manuscript:
    """The novel split into chapters exactly as importing `<name>.txt` in the product does."""
    path = corpus / f"{name}.txt"
    return parse_manuscript(path.name, path.read_bytes(), language=NOVELS[name])


def _named_in(names: Iterable[str], folded_text: str) -> bool:
    return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", folded_text) for n in names if n)


def problems(gold: Gold, manuscript: Manuscript) -> list[str]:
    """Everything wrong with a gold file against the novel, one line each (empty when sound)."""
    found: list[str] = []
    chapters = manuscript.chapters
    owner: dict[str, str] = {}
    for entity in gold.entities.values():
        if entity.kind not in KINDS:
            found.append(f"{entity.id}: kind {entity.kind!r} not in {KINDS}")
        for name in entity.names:
            if name in owner and owner[name] != entity.id:
                found.append(f"{entity.id}: name {name!r} also belongs to {owner[name]}")
            owner[name] = entity.id
    for entity in gold.entities.values():
        for name in entity.ambiguous_names:
            if name in owner:
                found.append(f"{entity.id}: ambiguous {name!r} is a name of {owner[name]}")
    if len(gold.chapters) < MIN_CHAPTERS:
        found.append(f"only {len(gold.chapters)} chapters; at least {MIN_CHAPTERS} are needed")
    if len(gold.facts) < MIN_FACTS:
        found.append(f"only {len(gold.facts)} facts; at least {MIN_FACTS} are needed")
    positions = [c.position for c in gold.chapters]
    if len(set(positions)) != len(positions):
        found.append(f"a chapter is annotated twice: {positions}")
    texts: dict[int, str] = {}
    for chapter in gold.chapters:
        where = f"chapter {chapter.position}"
        if not 1 <= chapter.position <= len(chapters):
            found.append(f"{where}: outside 1..{len(chapters)}")
            continue
        parsed = chapters[chapter.position - 1]
        if parsed.title != chapter.title:
            found.append(f"{where}: title {chapter.title!r} != the split's {parsed.title!r}")
        texts[chapter.position] = squash(parsed.text)
        folded = fold(parsed.text)
        listed = chapter.listed
        if len(set(listed)) != len(listed):
            found.append(f"{where}: an entity is listed twice")
        for entity_id in listed:
            listed_entity = gold.entities.get(entity_id)
            if listed_entity is None:
                found.append(f"{where}: unknown entity {entity_id!r}")
            elif not _named_in(listed_entity.names | listed_entity.ambiguous_names, folded):
                found.append(f"{where}: {entity_id} is not named in the text")
        for group, kind in ((chapter.characters, "character"), (chapter.places, "place")):
            for entity_id in group:
                grouped = gold.entities.get(entity_id)
                if grouped is not None and grouped.kind != kind:
                    found.append(f"{where}: {entity_id} is a {grouped.kind}, listed as {kind}")
    seen: set[str] = set()
    for fact in gold.facts:
        if fact.id in seen:
            found.append(f"{fact.id}: duplicate id")
        seen.add(fact.id)
        if fact.attribute not in ATTRIBUTES:
            found.append(f"{fact.id}: attribute {fact.attribute!r} not in the vocabulary")
        annotated = gold.chapter(fact.chapter)
        if annotated is None:
            found.append(f"{fact.id}: chapter {fact.chapter} is not annotated")
            continue
        for entity_id in fact.entities:
            if entity_id not in annotated.listed:
                found.append(f"{fact.id}: {entity_id} is not listed in chapter {fact.chapter}")
        if not fact.keywords:
            found.append(f"{fact.id}: no keywords")
        evidence = squash(fact.evidence)
        if not evidence or evidence not in texts.get(fact.chapter, ""):
            found.append(f"{fact.id}: evidence not found verbatim in chapter {fact.chapter}")
        elif not any(fold(k) in fold(evidence) for k in fact.keywords):
            found.append(f"{fact.id}: no keyword occurs in the evidence")
    return found


# --- predictions -----------------------------------------------------------------------------


@dataclass
class PredEntity:
    key: str
    name: str
    kind: str = ""
    aliases: list[str] = field(default_factory=list)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(fold(n) for n in (self.name, *self.aliases) if n.strip())


@dataclass(frozen=True)
class PredFact:
    entity: str  # a PredEntity key
    chapter: int  # gold chapter position
    attribute: str
    value: str
    quote: str
    verbatim: bool


@dataclass
class Prediction:
    """What one system found on the annotated chapters."""

    entities: dict[str, PredEntity] = field(default_factory=dict)
    presence: dict[int, set[str]] = field(default_factory=dict)  # position -> entity keys
    facts: list[PredFact] = field(default_factory=list)


# --- matching --------------------------------------------------------------------------------


def book_names(gold: Gold) -> dict[str, str]:
    """Every unambiguous folded name -> its gold entity id."""
    return {name: e.id for e in gold.entities.values() for name in e.names}


def chapter_names(gold: Gold, chapter: GoldChapter) -> tuple[dict[str, str], set[str]]:
    """Names that identify an entity listed in the chapter: its own names, and its ambiguous
    names when no other listed entity shares them; and the ambiguous names that stay so."""
    names: dict[str, str] = {}
    holders: dict[str, set[str]] = {}
    for entity_id in chapter.listed:
        entity = gold.entities[entity_id]
        for name in entity.names:
            names[name] = entity_id
        for name in entity.ambiguous_names:
            holders.setdefault(name, set()).add(entity_id)
    unclear: set[str] = set()
    for name, ids in holders.items():
        if len(ids) == 1 and name not in names:
            names[name] = next(iter(ids))
        elif name not in names:
            unclear.add(name)
    return names, unclear


@dataclass
class ChapterScore:
    position: int
    required: dict[str, int] = field(default_factory=dict)  # kind group -> gold count
    found: dict[str, int] = field(default_factory=dict)  # kind group -> found count
    correct: int = 0  # predicted entities naming a listed gold entity
    wrong: int = 0  # predicted entities naming nothing listed in the chapter
    neutral: int = 0  # only optional entities, or only a name that stays ambiguous
    kind_agrees: int = 0
    kind_checked: int = 0
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)


GROUPS = ("characters", "places", "others")


def score_chapter(gold: Gold, chapter: GoldChapter, prediction: Prediction) -> ChapterScore:
    names, unclear = chapter_names(gold, chapter)
    result = ChapterScore(chapter.position)
    hits: set[str] = set()
    for key in sorted(prediction.presence.get(chapter.position, set())):
        entity = prediction.entities[key]
        result.predicted.append(entity.name)
        matched = {names[n] for n in entity.names if n in names}
        required = matched - set(chapter.optional)
        if required:
            result.correct += 1
            hits |= matched
            for gold_id in required:
                if entity.kind:
                    result.kind_checked += 1
                    result.kind_agrees += entity.kind == gold.entities[gold_id].kind
        elif matched or entity.names & unclear:
            result.neutral += 1
        else:
            result.wrong += 1
            result.spurious.append(entity.name)
    for group in GROUPS:
        ids = getattr(chapter, group)
        result.required[group] = len(ids)
        result.found[group] = sum(1 for i in ids if i in hits)
        result.missed += [gold.entities[i].name for i in ids if i not in hits]
    return result


@dataclass
class MergeScore:
    eligible: int = 0  # gold entities with >= 2 of their names found
    merged: int = 0  # ... all of them in one predicted entity
    wrong_merges: int = 0  # predicted entities whose names belong to >= 2 gold entities
    split: list[str] = field(default_factory=list)
    wrongly_merged: list[str] = field(default_factory=list)


def score_merges(gold: Gold, prediction: Prediction) -> MergeScore:
    owner = book_names(gold)
    result = MergeScore()
    holder: dict[str, set[str]] = {}  # folded gold name -> predicted entity keys carrying it
    for predicted in prediction.entities.values():
        for name in predicted.names:
            if name in owner:
                holder.setdefault(name, set()).add(predicted.key)
        golds = {owner[n] for n in predicted.names if n in owner}
        if len(golds) >= 2:
            result.wrong_merges += 1
            result.wrongly_merged.append(
                f"{predicted.name}: {', '.join(sorted(gold.entities[g].name for g in golds))}"
            )
    for entity in gold.entities.values():
        found = [n for n in sorted(entity.names) if n in holder]
        if len(found) < 2:
            continue
        result.eligible += 1
        common = set.intersection(*(holder[n] for n in found))
        if common:
            result.merged += 1
        else:
            result.split.append(f"{entity.name}: {', '.join(found)}")
    return result


@dataclass
class FactScore:
    gold: int = 0
    found: int = 0  # gold facts matched by at least one predicted fact
    predicted: int = 0
    matched: int = 0  # predicted facts matching some gold fact
    attribute_agrees: int = 0  # ... whose attribute is the gold one
    verbatim: int = 0
    missed: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def fact_entities(gold: Gold, fact: PredFact, prediction: Prediction) -> set[str]:
    """The gold entities a predicted fact's entity names, in its chapter or in the book."""
    entity = prediction.entities.get(fact.entity)
    if entity is None:
        return set()
    owner = book_names(gold)
    ids = {owner[n] for n in entity.names if n in owner}
    chapter = gold.chapter(fact.chapter)
    if chapter is not None:
        names, _ = chapter_names(gold, chapter)
        ids |= {names[n] for n in entity.names if n in names}
    return ids


def fact_matches(gold_fact: GoldFact, fact: PredFact, entity_ids: set[str]) -> bool:
    if fact.chapter != gold_fact.chapter or not entity_ids & set(gold_fact.entities):
        return False
    text = fold(fact.value) + "\n" + fold(fact.quote)
    return any(fold(k) in text for k in gold_fact.keywords)


def score_facts(gold: Gold, prediction: Prediction) -> FactScore:
    result = FactScore(gold=len(gold.facts), predicted=len(prediction.facts))
    entity_ids = [fact_entities(gold, f, prediction) for f in prediction.facts]
    found: set[str] = set()
    for fact, ids in zip(prediction.facts, entity_ids, strict=True):
        result.verbatim += fact.verbatim
        hits = [g for g in gold.facts if fact_matches(g, fact, ids)]
        if hits:
            result.matched += 1
            result.attribute_agrees += any(g.attribute == fact.attribute for g in hits)
            found |= {g.id for g in hits}
        else:
            name = (
                prediction.entities[fact.entity].name if fact.entity in prediction.entities else "?"
            )
            result.unmatched.append(f"ch{fact.chapter} {name}.{fact.attribute}={fact.value!r}")
    result.found = len(found)
    result.missed = [f"{g.id} ch{g.chapter} {g.value}" for g in gold.facts if g.id not in found]
    return result


# Text that is not part of a name: italics marks, a dash run into the next word, a possessive.
_MALFORMED = re.compile(r"_|--|['’]s$")


def malformed_names(prediction: Prediction) -> list[str]:
    """Names and aliases a system stored with markup or a possessive ("You_", "Mr. Jones's"):
    matching forgives the italics marks, an author reading the bible would not."""
    return sorted(
        {
            n
            for e in prediction.entities.values()
            for n in (e.name, *e.aliases)
            if _MALFORMED.search(n)
        }
    )


@dataclass
class Scores:
    chapters: list[ChapterScore]
    merges: MergeScore
    facts: FactScore
    malformed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 4) if b else None

        required = {g: sum(c.required[g] for c in self.chapters) for g in GROUPS}
        found = {g: sum(c.found[g] for c in self.chapters) for g in GROUPS}
        correct = sum(c.correct for c in self.chapters)
        wrong = sum(c.wrong for c in self.chapters)
        kind_checked = sum(c.kind_checked for c in self.chapters)
        f = self.facts
        return {
            "character_recall": ratio(found["characters"], required["characters"]),
            "place_recall": ratio(found["places"], required["places"]),
            "entity_recall": ratio(sum(found.values()), sum(required.values())),
            "entity_precision": ratio(correct, correct + wrong),
            "entities_predicted": correct + wrong + sum(c.neutral for c in self.chapters),
            "malformed_names": len(self.malformed),
            "kind_accuracy": ratio(sum(c.kind_agrees for c in self.chapters), kind_checked),
            "merge_accuracy": ratio(self.merges.merged, self.merges.eligible),
            "merge_eligible": self.merges.eligible,
            "wrong_merges": self.merges.wrong_merges,
            "fact_recall": ratio(f.found, f.gold),
            "fact_precision_lower_bound": ratio(f.matched, f.predicted),
            "facts_predicted": f.predicted,
            "facts_without_gold": f.predicted - f.matched,
            "attribute_accuracy": ratio(f.attribute_agrees, f.matched),
            "verbatim_quotes": ratio(f.verbatim, f.predicted),
        }


def score(gold: Gold, prediction: Prediction) -> Scores:
    return Scores(
        chapters=[score_chapter(gold, c, prediction) for c in gold.chapters],
        merges=score_merges(gold, prediction),
        facts=score_facts(gold, prediction),
        malformed=malformed_names(prediction),
    )


# --- the baseline ----------------------------------------------------------------------------

# Abbreviations whose period does not end a sentence ("Mr. Bennet", "D. Gloria").
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "sr", "sra", "srs", "d", "dª", "s", "rev", "col", "capt"}
)
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")
_SKIP = set(" \t\"'«»“”‘’_()[]-—–")


def _sentence_initial(text: str, start: int) -> bool:
    """Whether the word at `start` opens a sentence, a paragraph or a line of dialogue."""
    i = start - 1
    newlines = 0
    while i >= 0 and (text[i] in _SKIP or text[i] == "\n"):
        newlines += text[i] == "\n"
        if newlines >= 2:  # a blank line: a new paragraph
            return True
        i -= 1
    if i < 0:
        return True
    if text[i] in ".!?…:":
        if text[i] == ".":
            before = re.search(r"([^\W\d_]+)\.$", text[max(0, i - 6) : i + 1])
            if before and before.group(1).casefold() in ABBREVIATIONS:
                return False
        return True
    return False


def capitalised_words(text: str) -> list[str]:
    """The baseline's entities: every capitalised word that does not start a sentence (or a
    line: a dialogue line or a paragraph starts a sentence)."""
    words: list[str] = []
    for match in _WORD.finditer(text):
        word = re.sub(r"['’]s$", "", match.group(0))  # "Bingley's" is Bingley
        if word[0].isupper() and not _sentence_initial(text, match.start()):
            words.append(word)
    return words


def baseline_prediction(gold: Gold, texts: dict[int, str]) -> Prediction:
    """Each distinct capitalised, non-sentence-initial word is an entity of unknown kind,
    present in the chapters where it occurs; no aliases, no facts."""
    prediction = Prediction()
    for position, text in texts.items():
        present: set[str] = set()
        for word in capitalised_words(text):
            key = fold(word)
            prediction.entities.setdefault(key, PredEntity(key=key, name=word))
            present.add(key)
        prediction.presence[position] = present
    return prediction


def sum_scores(parts: Sequence[Scores]) -> Scores:
    """Scores of several novels pooled (micro-averaged)."""
    merges = MergeScore()
    facts = FactScore()
    for part in parts:
        for name in ("eligible", "merged", "wrong_merges"):
            setattr(merges, name, getattr(merges, name) + getattr(part.merges, name))
        for name in ("gold", "found", "predicted", "matched", "attribute_agrees", "verbatim"):
            setattr(facts, name, getattr(facts, name) + getattr(part.facts, name))
    malformed = [name for p in parts for name in p.malformed]
    return Scores([c for p in parts for c in p.chapters], merges, facts, malformed)
