"""The continuity audit's test manuscripts and their scorer (used by bench/continuity_eval.py and
by the unit tests tests/core/test_continuity_scoring.py).

`bench/continuity_set/<id>.md` is a manuscript with `##` chapter headings (the product's importer
splits it); `bench/continuity_set/<id>.json` annotates it, in the style of FlawedFictions:
    id, language, file, source ("original" | "corpus"), chapters (how many the split gives),
    build       only for corpus excerpts: {"novel", "first", "last", "title", "edits": [{"chapter"
                (1-based in the excerpt), "where": "start"|"end"|"after", "anchor", "text"}]};
                the excerpt is the novel's chapters first..last as `parse_manuscript` splits the
                corpus file, with the edits applied (`build_excerpt`, checked by `problems`)
    items       [{"id", "control": bool, "type" (the audit contract's: fact | timeline |
                characterisation | world_rule), "kind" (what was planted, see KINDS),
                "entity", "aliases": [...], "attribute", "note",
                "sides": [{"chapter": 1-based position, "quote": verbatim in that chapter
                (whitespace-normalised), "also": [other chapters that state the same side]}, x2]}]
An item with `"control": true` is a red herring: it looks like a contradiction and is not one (a
dyed hair the text owns up to, a flashback, a denied rumour, a narrated move, a birthday).

A finding (from the API or the baseline) is scored against the items: it *matches* an item when
its citations cover both sides' chapters (each side by its chapter or one of its `also`) and,
accent- and case-folded, it names the item's entity (in its entity, attribute, explanation or
quotes) or its citation quotes share at least two content words (four letters or more, not a
function word, not a capitalised name) with the item's quotes. A finding is credited to one item
only, the one it matches best (`best_match`): a control when that is a control (a false alarm),
else a planted error (recall, precision).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bible_set import CORPUS, NOVELS, capitalised_words, fold, squash
from services.core.manuscripts.parsing import Manuscript, parse_manuscript

SET_DIR = Path(__file__).resolve().parent / "continuity_set"
TYPES = ("fact", "timeline", "characterisation", "world_rule")  # the audit contract's types
# What was planted, and the contract type each kind of error belongs to.
ERROR_KINDS = {
    "appearance": "fact",
    "age": "fact",
    "occupation": "fact",
    "relationship": "fact",
    "possession": "fact",
    "after_death": "fact",
    "after_departure": "fact",
    "two_places": "fact",
    "date_order": "timeline",
    "season_order": "timeline",
    "age_arithmetic": "timeline",
    "trait_reversal": "characterisation",
    "rule_broken": "world_rule",
}
CONTROL_KINDS = ("changed_appearance", "flashback", "rumour_denied", "narrated_move", "birthday")
KINDS = (*ERROR_KINDS, *CONTROL_KINDS)
# What each original must hold (after_death / after_departure count as one: "acting after").
ORIGINAL_ERROR_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(g)
    for g in (
        {"appearance"},
        {"age"},
        {"occupation"},
        {"relationship"},
        {"possession"},
        {"after_death", "after_departure"},
        {"date_order"},
        {"season_order"},
        {"age_arithmetic"},
        {"trait_reversal"},
        {"rule_broken"},
        {"two_places"},
    )
)
MINIMA = {"original": (12, 5), "corpus": (6, 3)}  # (errors, controls)
ORIGINAL_CHAPTERS = (10, 12)
ORIGINAL_WORDS = (250, 600)  # per chapter
CORPUS_CHAPTERS = (8, 10)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


STOPWORDS = _wordset(
    """the and that with from this have were which when what there their they them then than
    into been would could should about after before over only said says will your more some
    such very much like just also even each other those these here where while upon shall
    must being does done made make nothing never ever every again still once
    para como mais pela pelo pelas pelos mas que uma umas uns dos das nos nas num numa com sem
    sobre entre depois antes quando onde ainda tambem também muito muita muitos muitas todo toda
    todos todas isso isto esse essa aquele aquela ele ela eles elas seu sua seus suas dele dela
    nunca sempre tinha tinham havia foram fora sido estava estavam era eram ser estar fazer
    disse dizia porque pois assim então entao ate até desde cada outro outra outros outras
    mesmo mesma lhe lhes minha meu meus minhas nossa nosso elle ella elles ellas"""
)


# --- the set ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    chapter: int
    quote: str
    also: tuple[int, ...] = ()

    @property
    def chapters(self) -> frozenset[int]:
        return frozenset((self.chapter, *self.also))


@dataclass(frozen=True)
class Item:
    id: str
    control: bool
    type: str
    kind: str
    entity: str
    attribute: str
    sides: tuple[Side, ...]
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(fold(n) for n in (self.entity, *self.aliases) if n.strip())

    @property
    def pair(self) -> tuple[int, int]:
        return (self.sides[0].chapter, self.sides[-1].chapter)


@dataclass(frozen=True)
class Edit:
    chapter: int
    where: str  # start | end | after
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Build:
    novel: str
    first: int
    last: int
    title: str
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Annotation:
    id: str
    language: str
    file: str
    source: str
    chapters: int
    items: tuple[Item, ...]
    build: Build | None = None

    @property
    def errors(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if not i.control)

    @property
    def controls(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.control)


def annotation_from_dict(raw: dict[str, Any]) -> Annotation:
    items = tuple(
        Item(
            id=str(i["id"]),
            control=bool(i.get("control", False)),
            type=str(i["type"]),
            kind=str(i["kind"]),
            entity=str(i["entity"]),
            attribute=str(i.get("attribute", "")),
            aliases=tuple(str(a) for a in i.get("aliases", ())),
            note=str(i.get("note", "")),
            sides=tuple(
                Side(
                    chapter=int(s["chapter"]),
                    quote=str(s["quote"]),
                    also=tuple(int(c) for c in s.get("also", ())),
                )
                for s in i["sides"]
            ),
        )
        for i in raw["items"]
    )
    build = None
    if raw.get("build"):
        b = raw["build"]
        build = Build(
            novel=str(b["novel"]),
            first=int(b["first"]),
            last=int(b["last"]),
            title=str(b.get("title", "")),
            edits=tuple(
                Edit(
                    chapter=int(e["chapter"]),
                    where=str(e["where"]),
                    text=str(e["text"]),
                    anchor=str(e.get("anchor", "")),
                )
                for e in b.get("edits", ())
            ),
        )
    return Annotation(
        id=str(raw["id"]),
        language=str(raw["language"]),
        file=str(raw["file"]),
        source=str(raw["source"]),
        chapters=int(raw["chapters"]),
        items=items,
        build=build,
    )


def names(directory: Path = SET_DIR) -> list[str]:
    """The manuscripts of the set, by id (one `<id>.json` each)."""
    return sorted(p.stem for p in directory.glob("*.json"))


def load_annotation(name: str, directory: Path = SET_DIR) -> Annotation:
    return annotation_from_dict(json.loads((directory / f"{name}.json").read_text("utf-8")))


def manuscript_bytes(annotation: Annotation, directory: Path = SET_DIR) -> bytes:
    return (directory / annotation.file).read_bytes()


def parse(annotation: Annotation, directory: Path = SET_DIR) -> Manuscript:
    """The manuscript split into chapters exactly as the product's importer does."""
    return parse_manuscript(
        annotation.file, manuscript_bytes(annotation, directory), language=annotation.language
    )


# --- corpus excerpts -------------------------------------------------------------------------


def _apply(text: str, edit: Edit) -> str:
    if edit.where == "start":
        return edit.text + "\n\n" + text
    if edit.where == "end":
        return text + "\n\n" + edit.text
    if edit.where == "after":
        pattern = r"\s+".join(re.escape(w) for w in edit.anchor.split())
        found = list(re.finditer(pattern, text))
        if len(found) != 1:
            raise ValueError(
                f"chapter {edit.chapter}: the anchor {edit.anchor!r} occurs {len(found)} times"
            )
        return text[: found[0].end()] + " " + edit.text + text[found[0].end() :]
    raise ValueError(f"chapter {edit.chapter}: unknown edit place {edit.where!r}")


def build_excerpt(build: Build, corpus: Path = CORPUS) -> str:
    """The excerpt's Markdown: the novel's chapters first..last as the product splits the corpus
    file, with the planted edits, under `##` headings."""
    path = corpus / f"{build.novel}.txt"
    novel = parse_manuscript(path.name, path.read_bytes(), language=NOVELS[build.novel])
    chapters = novel.chapters[build.first - 1 : build.last]
    parts = [f"# {build.title}"]
    for position, chapter in enumerate(chapters, 1):
        text = chapter.text
        for edit in build.edits:
            if edit.chapter == position:
                text = _apply(text, edit)
        parts.append(f"## {chapter.title}\n\n{text}")
    return "\n\n".join(parts) + "\n"


# --- validation ------------------------------------------------------------------------------


def problems(
    annotation: Annotation, manuscript: Manuscript, *, corpus: Path | None = CORPUS
) -> list[str]:
    """Everything wrong with an annotation against its manuscript, one line each (empty when
    sound): quotes verbatim in their chapter of the split, chapter counts, contract types,
    the minimum numbers of errors and controls, and a corpus excerpt equal to its rebuild."""
    found: list[str] = []
    chapters = manuscript.chapters
    if len(chapters) != annotation.chapters:
        found.append(
            f"the split gives {len(chapters)} chapters, the annotation says {annotation.chapters}"
        )
    if annotation.source not in MINIMA:
        found.append(f"source {annotation.source!r} is not one of {sorted(MINIMA)}")
        return found
    low, high = ORIGINAL_CHAPTERS if annotation.source == "original" else CORPUS_CHAPTERS
    if not low <= len(chapters) <= high:
        found.append(f"{len(chapters)} chapters; a {annotation.source} needs {low}-{high}")
    if annotation.source == "original":
        for position, chapter in enumerate(chapters, 1):
            words = chapter.word_count
            if not ORIGINAL_WORDS[0] <= words <= ORIGINAL_WORDS[1]:
                found.append(
                    f"chapter {position}: {words} words, not {ORIGINAL_WORDS[0]}-"
                    f"{ORIGINAL_WORDS[1]}"
                )
    texts = [squash(c.text) for c in chapters]
    seen: set[str] = set()
    for item in annotation.items:
        where = item.id
        if item.id in seen:
            found.append(f"{where}: duplicate id")
        seen.add(item.id)
        if item.type not in TYPES:
            found.append(f"{where}: type {item.type!r} not in the contract's {TYPES}")
        if item.control:
            if item.kind not in CONTROL_KINDS:
                found.append(f"{where}: control kind {item.kind!r} not in {CONTROL_KINDS}")
        elif item.kind not in ERROR_KINDS:
            found.append(f"{where}: kind {item.kind!r} not in {tuple(ERROR_KINDS)}")
        elif ERROR_KINDS[item.kind] != item.type:
            found.append(f"{where}: a {item.kind} is a {ERROR_KINDS[item.kind]}, not {item.type}")
        if not item.entity.strip():
            found.append(f"{where}: no entity")
        if len(item.sides) != 2:
            found.append(f"{where}: {len(item.sides)} sides, two are needed")
            continue
        first, second = item.sides
        if first.chapter == second.chapter:
            found.append(f"{where}: both sides in chapter {first.chapter}")
        if not item.control and second.chapter < first.chapter:
            found.append(f"{where}: the planted side (chapter {second.chapter}) comes first")
        for side in item.sides:
            for position in side.chapters:
                if not 1 <= position <= len(chapters):
                    found.append(f"{where}: chapter {position} outside 1..{len(chapters)}")
            if not 1 <= side.chapter <= len(chapters):
                continue
            quote = squash(side.quote)
            if not quote:
                found.append(f"{where}: empty quote for chapter {side.chapter}")
            elif quote not in texts[side.chapter - 1]:
                elsewhere = [i + 1 for i, t in enumerate(texts) if quote in t]
                found.append(
                    f"{where}: quote {side.quote[:60]!r} not in chapter {side.chapter}"
                    + (f" (it is in {elsewhere})" if elsewhere else "")
                )
    errors, controls = MINIMA[annotation.source]
    if len(annotation.errors) < errors:
        found.append(f"only {len(annotation.errors)} planted errors; {errors} are needed")
    if len(annotation.controls) < controls:
        found.append(f"only {len(annotation.controls)} controls; {controls} are needed")
    types = {i.type for i in annotation.errors}
    if set(TYPES) - types:
        found.append(f"no planted error of type {sorted(set(TYPES) - types)}")
    if annotation.source == "original":
        kinds = {i.kind for i in annotation.errors}
        for group in ORIGINAL_ERROR_GROUPS:
            if not group & kinds:
                found.append(f"no planted error of kind {'/'.join(sorted(group))}")
        missing = set(CONTROL_KINDS) - {i.kind for i in annotation.controls}
        if missing:
            found.append(f"no control of kind {sorted(missing)}")
    if annotation.source == "corpus":
        if annotation.build is None:
            found.append("a corpus excerpt needs its `build`")
        elif corpus is not None:
            try:
                expected = build_excerpt(annotation.build, corpus)
            except (OSError, ValueError) as exc:
                found.append(f"the excerpt cannot be rebuilt: {exc}")
            else:
                expected_split = parse_manuscript(
                    annotation.file, expected.encode(), language=annotation.language
                )
                if [(c.title, c.text) for c in expected_split.chapters] != [
                    (c.title, c.text) for c in chapters
                ]:
                    found.append("the excerpt differs from its rebuild from the corpus")
    return found


# --- findings and scores ---------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    chapter: int  # 1-based position in the manuscript; 0 when unknown
    quote: str


@dataclass(frozen=True)
class Finding:
    citations: tuple[Citation, ...]
    type: str = ""
    entity: str = ""
    attribute: str = ""
    explanation: str = ""

    @property
    def chapters(self) -> frozenset[int]:
        return frozenset(c.chapter for c in self.citations if c.chapter > 0)

    def text(self) -> str:
        """Everything the finding says, folded."""
        parts = (self.entity, self.attribute, self.explanation, *(c.quote for c in self.citations))
        return fold("\n".join(p for p in parts if p))


_WORDS = re.compile(r"[^\W\d_]+")


SHARED_WORDS = 2  # content words a finding's quotes must share with the planted quotes


def content_words(text: str) -> set[str]:
    """Folded words of four letters or more that are neither function words nor capitalised
    (a name in a quote says who is on stage, not what the passage says)."""
    return {
        fold(w)
        for w in _WORDS.findall(text)
        if len(w) >= 4 and not w[0].isupper() and fold(w) not in STOPWORDS
    }


def covers(finding: Finding, item: Item) -> bool:
    """Whether the finding's citations cover both of the item's sides with two chapters."""
    cited = finding.chapters
    first, second = item.sides[0].chapters & cited, item.sides[1].chapters & cited
    return bool(first and second and (len(first | second) >= 2))


def _named(names: Iterable[str], folded: str) -> bool:
    return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", folded) for n in names if n)


def overlap(finding: Finding, item: Item) -> tuple[bool, int]:
    """Whether the finding names the item's entity, and how many content words its quotes
    share with the item's quotes."""
    planted = set().union(*(content_words(s.quote) for s in item.sides))
    cited = set().union(*(content_words(c.quote) for c in finding.citations))
    return _named(item.names, finding.text()), len(planted & cited)


def matches(finding: Finding, item: Item) -> bool:
    if not covers(finding, item):
        return False
    named, shared = overlap(finding, item)
    return named or shared >= SHARED_WORDS


def best_match(finding: Finding, items: Sequence[Item]) -> Item | None:
    """The one item a finding is credited to: of those it matches, the one whose quotes it
    shares most words with (a name counts for two), the first in the annotation on a tie. One
    finding about Anna in chapters 1 and 3 does not earn every planted error about Anna there."""
    best: tuple[int, Item] | None = None
    for item in items:
        if matches(finding, item):
            named, shared = overlap(finding, item)
            weight = shared + 2 * named
            if best is None or weight > best[0]:
                best = (weight, item)
    return best[1] if best else None


@dataclass
class Scores:
    errors: int = 0
    controls: int = 0
    findings: int = 0
    found: list[str] = field(default_factory=list)  # error ids matched by some finding
    alarms: list[str] = field(default_factory=list)  # control ids matched by some finding
    true_findings: int = 0  # findings matching some planted error
    control_findings: int = 0  # findings matching some control
    right_chapters: int = 0  # findings whose cited chapters cover a planted error's pair
    seconds: float | None = None
    missed: list[str] = field(default_factory=list)
    by_type: dict[str, list[int]] = field(default_factory=dict)  # type -> [found, planted]

    def summary(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "recall": ratio(len(self.found), self.errors),
            "false_alarm_rate": ratio(len(self.alarms), self.controls),
            "precision_lower_bound": ratio(self.true_findings, self.findings),
            "right_chapters": ratio(self.right_chapters, self.findings),
            "findings": self.findings,
            "errors": self.errors,
            "controls": self.controls,
            "found": len(self.found),
            "alarms": len(self.alarms),
            "control_findings": self.control_findings,
            "seconds": self.seconds,
            "recall_by_type": {t: ratio(f, n) for t, (f, n) in sorted(self.by_type.items())},
        }


def score(annotation: Annotation, findings: Sequence[Finding]) -> Scores:
    result = Scores(
        errors=len(annotation.errors),
        controls=len(annotation.controls),
        findings=len(findings),
    )
    found: set[str] = set()
    alarms: set[str] = set()
    for finding in findings:
        item = best_match(finding, annotation.items)
        if item is not None and item.control:
            alarms.add(item.id)
            result.control_findings += 1
        elif item is not None:
            found.add(item.id)
            result.true_findings += 1
        result.right_chapters += any(covers(finding, i) for i in annotation.errors)
    result.found = [i.id for i in annotation.errors if i.id in found]
    result.alarms = [i.id for i in annotation.controls if i.id in alarms]
    result.missed = [
        f"{i.id} {i.kind} {i.entity} ch{i.pair}" for i in annotation.errors if i.id not in found
    ]
    for item in annotation.errors:
        counts = result.by_type.setdefault(item.type, [0, 0])
        counts[0] += item.id in found
        counts[1] += 1
    return result


def sum_scores(parts: Sequence[Scores]) -> Scores:
    """Several manuscripts pooled (micro-averaged)."""
    total = Scores()
    for part in parts:
        for name in (
            "errors",
            "controls",
            "findings",
            "true_findings",
            "control_findings",
            "right_chapters",
        ):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.found += part.found
        total.alarms += part.alarms
        total.missed += part.missed
        for kind, (f, n) in part.by_type.items():
            counts = total.by_type.setdefault(kind, [0, 0])
            counts[0] += f
            counts[1] += n
    seconds = [p.seconds for p in parts if p.seconds is not None]
    total.seconds = round(sum(seconds), 2) if seconds else None
    return total


# --- the baseline ----------------------------------------------------------------------------

COLOURS = _wordset(
    """black white red green blue grey gray brown yellow fair golden dark pale auburn
    preto preta pretos pretas branco branca brancos brancas vermelho vermelha verde verdes azul
    azuis cinza cinzento cinzenta castanho castanha castanhos castanhas amarelo amarela louro
    loura grisalho grisalha escuro escura claro clara ruivo ruiva"""
)
NUMBER_WORDS = _wordset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty hundred thousand
    dois duas tres quatro cinco seis sete oito nove dez onze doze treze catorze quatorze
    quinze dezesseis dezeseis dezessete dezoito dezenove vinte trinta quarenta cinquenta
    sessenta cem mil dous"""
)
WINDOW = 6  # words either side of a name
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def _values(words: Sequence[str]) -> tuple[set[str], set[str]]:
    colours = {w for w in words if w in COLOURS}
    numbers = {w for w in words if w in NUMBER_WORDS or w.isdigit()}
    return colours, numbers


def baseline_findings(texts: Sequence[str]) -> list[Finding]:
    """The trivial reference: every pair of chapters in which the same capitalised name has
    different colour words (or different numbers) within a few words of it is a finding, with
    the two sentences as its citations. Regexes only; no model."""
    # chapter -> name -> category -> {value: sentence}
    seen: list[dict[str, dict[str, dict[str, str]]]] = []
    for text in texts:
        names = {fold(n) for n in capitalised_words(text) if len(n) > 2}
        per_name: dict[str, dict[str, dict[str, str]]] = {}
        for sentence in _SENTENCE.findall(text):
            words = re.findall(r"\w+", fold(sentence))
            for i, word in enumerate(words):
                if word not in names:
                    continue
                around = words[max(0, i - WINDOW) : i + WINDOW + 1]
                colours, numbers = _values(around)
                slot = per_name.setdefault(word, {"colour": {}, "number": {}})
                for value in colours:
                    slot["colour"].setdefault(value, squash(sentence))
                for value in numbers:
                    slot["number"].setdefault(value, squash(sentence))
        seen.append(per_name)
    findings: list[Finding] = []
    for a in range(len(texts)):
        for b in range(a + 1, len(texts)):
            for name in sorted(seen[a].keys() & seen[b].keys()):
                for category in ("colour", "number"):
                    left, right = seen[a][name][category], seen[b][name][category]
                    if not left or not right or set(left) == set(right):
                        continue
                    only_left = sorted(set(left) - set(right)) or sorted(left)
                    only_right = sorted(set(right) - set(left)) or sorted(right)
                    findings.append(
                        Finding(
                            citations=(
                                Citation(a + 1, left[only_left[0]]),
                                Citation(b + 1, right[only_right[0]]),
                            ),
                            type="fact",
                            entity=name,
                            attribute=category,
                            explanation=f"{name}: {only_left[0]} / {only_right[0]}",
                        )
                    )
    return findings
