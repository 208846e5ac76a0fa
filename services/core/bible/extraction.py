"""One chapter's entities and facts: deterministic name candidates merged into entities, then
(with an LLM) their kinds and the facts the text states, each fact kept only when its quote is
found verbatim in the chapter."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from services.core.bible.aliases import KnownEntity, NameGroup, merge_names
from services.core.bible.candidates import Candidate, find_candidates, fold, name_key
from services.core.bible.cue_facts import cue_facts
from services.core.bible.text_facts import (
    AGE,
    BIRTH,
    CONDITION,
    EYES,
    HAIR,
    INCOME,
    LAME,
    NEVER_OWNED,
    OCCUPATION,
    OWNS,
    RELATION,
    Names,
    extract_facts,
)
from services.core.llm.client import LLMClient, TransientLLMError
from services.core.llm.prompts import load_prompt
from services.core.llm.structured import StructuredOutputError, complete_json

log = logging.getLogger(__name__)

# Changing the rules, prompts or schema changes this: chapters extracted before are redone.
EXTRACTOR_VERSION = "bible-3"
ENTITY_KINDS = ("character", "place", "object", "group")
EntityKind = Literal["character", "place", "object", "group"]
ATTRIBUTES = (
    "appearance",
    "age",
    "occupation",
    "family",
    "relationship",
    "location",
    "possession",
    "condition",
    "knowledge",
    "trait",
    "event",
)
Attribute = Literal[
    "appearance",
    "age",
    "occupation",
    "family",
    "relationship",
    "location",
    "possession",
    "condition",
    "knowledge",
    "trait",
    "event",
]
# Names per prompt and facts per answer: part of the decoding grammar, so a looping small
# model cannot run one list until max_tokens cuts the JSON.
MAX_NAMES = 12
MAX_FACTS = 8
MAX_TOKENS = 900
# A small model on a CPU writes ~100 tokens/s at best (a few when the machine is shared): a
# shorter answer per window keeps a chapter's extraction within a job's time limit.
COMPACT_NAMES = 8
COMPACT_FACTS = 4
COMPACT_TOKENS = 450
COMPACT_SENTENCES = 12
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+[\"”»’']?)?")
COMPACT_WINDOW_CHARS = 2000
FULL_WINDOW_CHARS = 4000


class ExtractedEntity(NamedTuple):
    name: str
    kind: str
    aliases: list[str]
    mentions: int


class ExtractedFact(NamedTuple):
    entity_name: str
    attribute: str
    value: str
    quote: str
    start: int
    end: int
    story_time: str | None


@dataclass
class ChapterExtraction:
    entities: list[ExtractedEntity] = field(default_factory=list)
    facts: list[ExtractedFact] = field(default_factory=list)
    dropped_quotes: int = 0
    # Per entity name: how often each spelling occurs, and the known entity it attached to.
    spellings: dict[str, dict[str, int]] = field(default_factory=dict)
    known_ids: dict[str, str] = field(default_factory=dict)
    used_llm: bool = False
    # Facts a small model pointed at a sentence that does not name the entity or hold any
    # word of the value: dropped (it invents values more often than not).
    ungrounded: int = 0
    windows: int = 0
    failed_windows: int = 0


class _LLMEntity(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    kind: EntityKind


class _LLMFact(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    attribute: Attribute
    value: str = Field(min_length=1, max_length=160)
    quote: str = Field(min_length=1, max_length=300)
    story_time: str = Field(default="", max_length=60)


class LLMAnswer(BaseModel):
    # Facts first: the decoding grammar follows this order, and a small model that loops on
    # the list of names would otherwise spend its tokens before reaching any fact.
    facts: list[_LLMFact] = Field(default_factory=list, max_length=MAX_FACTS)
    entities: list[_LLMEntity] = Field(default_factory=list, max_length=MAX_NAMES)


class _LLMSentenceFact(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    attribute: Attribute
    value: str = Field(min_length=1, max_length=160)
    sentence: int = Field(ge=1, le=COMPACT_SENTENCES)
    story_time: str = Field(default="", max_length=60)


class CompactAnswer(BaseModel):
    """For a small model: evidence by sentence number. It cannot copy a sentence exactly (it
    paraphrases, and every such fact was dropped), but it can point at one; the quote is then
    the sentence itself, verbatim by construction."""

    facts: list[_LLMSentenceFact] = Field(default_factory=list, max_length=COMPACT_FACTS)
    entities: list[_LLMEntity] = Field(default_factory=list, max_length=COMPACT_NAMES)


class NormalizedText:
    """The text with every run of whitespace as one space, and where each character came from:
    a quote is searched here and its offsets mapped back to the original."""

    def __init__(self, text: str) -> None:
        chars: list[str] = []
        origin: list[int] = []
        in_space = True  # leading whitespace is dropped
        for i, ch in enumerate(text):
            if ch.isspace():
                if not in_space:
                    chars.append(" ")
                    origin.append(i)
                in_space = True
            else:
                chars.append(ch)
                origin.append(i)
                in_space = False
        self.text = "".join(chars)
        self.origin = origin

    def position(self, original: int) -> int:
        """The normalized position of the first kept character at or after `original`."""
        lo, hi = 0, len(self.origin)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.origin[mid] < original:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def find(self, quote: str, near: int = 0) -> tuple[int, int] | None:
        """Offsets (start, end) in the original text of `quote`, whitespace aside; the first
        occurrence at or after `near` (an original offset), else the first one."""
        wanted = " ".join(quote.split())
        if not wanted:
            return None
        at = self.text.find(wanted, self.position(near))
        if at < 0:
            at = self.text.find(wanted)
        if at < 0:
            return None
        return self.origin[at], self.origin[at + len(wanted) - 1] + 1


def find_quote(text: str, quote: str, near: int = 0) -> tuple[int, int] | None:
    """Where `quote` is in `text` (whitespace normalised only), as original offsets."""
    return NormalizedText(text).find(quote, near)


def windows(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) slices of at most `max_chars`, cut after a paragraph or
    sentence end when there is one in the second half of the slice."""
    spans = []
    start = 0
    while start < len(text):
        end = min(len(text), start + max_chars)
        if end < len(text):
            piece = text[start:end]
            cut = max(piece.rfind("\n"), *(piece.rfind(p) for p in (". ", "! ", "? ", "… ")))
            if cut > max_chars // 2:
                end = start + cut + 1
        spans.append((start, end))
        start = end
    return spans


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence of text[start:end], surrounding spaces left out."""
    spans = []
    for m in _SENTENCE.finditer(text, start, end):
        piece = m.group()
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            spans.append((m.start() + left, m.start() + right))
    return spans


def window_chars_for(llm: LLMClient | None, profile: str | None = None) -> int:
    """The compact profile (a small model) reads 2,000 characters at a time."""
    if profile is None and llm is not None:
        info = llm.server_info()
        profile = "compact" if info is not None and (info.params_b or 99) < 3 else "full"
    return COMPACT_WINDOW_CHARS if profile == "compact" else FULL_WINDOW_CHARS


def _group_for(groups: Sequence[NameGroup], name: str) -> NameGroup | None:
    key = name_key(name)
    for group in groups:
        if key in {name_key(s) for s in group.surfaces} or key == name_key(group.name):
            return group
    bare = key.split("|", 1)[-1]
    matches = [g for g in groups if any(name_key(s).split("|", 1)[-1] == bare for s in g.surfaces)]
    return matches[0] if len(matches) == 1 else None


def _grounded(sentence: str, group: NameGroup, value: str) -> bool:
    """The sentence names the entity and holds a word of the value."""
    folded = fold(sentence)
    if not any(fold(s) in folded for s in group.surfaces):
        return False
    words = [w for w in re.findall(r"\w+", fold(value)) if len(w) >= 3 or w.isdigit()]
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded) for w in words)


def _new_candidate(text: str, name: str) -> Candidate | None:
    """A name the LLM saw that the rules missed: kept when it is in the text as written and
    capitalised (the model may not invent people)."""
    surface = " ".join(name.split())
    if not surface[:1].isupper() or len(surface) > 60:
        return None
    spans = [(m.start(), m.end()) for m in re.finditer(rf"(?<!\w){re.escape(surface)}(?!\w)", text)]
    if not spans:
        return None
    return Candidate(surface, None, spans, mid_sentence=len(spans))


# The bible's attribute for each kind of fact the patterns find.
_PATTERN_ATTRIBUTES = {
    EYES: "appearance",
    HAIR: "appearance",
    LAME: "appearance",
    AGE: "age",
    BIRTH: "age",
    OCCUPATION: "occupation",
    CONDITION: "condition",
    OWNS: "possession",
    NEVER_OWNED: "possession",
    INCOME: "possession",
}


def pattern_facts(text: str, names: Names) -> list[ExtractedFact]:
    """The facts the pt/en patterns state about the chapter's people: the value is the
    text's own words ("olhos verdes", "was a doctor"), the quote its sentence."""
    found: list[ExtractedFact] = []
    for fact in extract_facts(text, names):
        if fact.entity is None:
            continue  # a date of the narrative, about no one
        attribute = (
            "family"
            if fact.attribute.startswith(RELATION)
            else _PATTERN_ATTRIBUTES.get(fact.attribute)
        )
        if attribute is None:
            continue
        value = " ".join(text[fact.match_start : fact.match_end].split())
        found.append(
            ExtractedFact(fact.entity, attribute, value, fact.quote, fact.start, fact.end, None)
        )
    return found


def extract_chapter(
    text: str,
    *,
    language: str,
    llm: LLMClient | None,
    known: Sequence[KnownEntity] = (),
    profile: str | None = None,
    on_window: Callable[[int, int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> ChapterExtraction:
    """The chapter's entities (merged with the `known` ones of the book) and, with `llm`, the
    facts it states. `on_window(done, total)` reports progress; `check` may raise to stop."""
    candidates = find_candidates(text, language)
    groups = [
        g
        for g in merge_names(candidates, known)
        if g.known is not None or not all(c.weak for c in g.candidates)
    ]
    result = ChapterExtraction()
    kinds: dict[int, list[str]] = {}
    facts: list[tuple[NameGroup, _LLMFact | _LLMSentenceFact, tuple[int, int]]] = []
    if llm is not None and groups:
        result.used_llm = True
        normalized = NormalizedText(text)
        spans = windows(text, window_chars_for(llm, profile))
        result.windows = len(spans)
        for n, (start, end) in enumerate(spans):
            if check is not None:
                check()
            present = [
                g for g in groups if any(start <= s < end for c in g.candidates for s, _ in c.spans)
            ]
            if present:
                present = present[: COMPACT_NAMES if profile == "compact" else MAX_NAMES]
                numbered: list[tuple[int, int]] = []
                if profile == "compact":
                    starts = [s for g in present for c in g.candidates for s, _ in c.spans]
                    numbered = [
                        (a, b)
                        for a, b in sentences(text, start, end)
                        if any(a <= s < b for s in starts)
                    ][:COMPACT_SENTENCES]
                    passage = "\n".join(
                        f"[{i}] {text[a:b]}" for i, (a, b) in enumerate(numbered, 1)
                    )
                else:
                    passage = text[start:end]
                answer = _ask(llm, language, passage, present, profile)
                if answer is None:
                    result.failed_windows += 1
                else:
                    for entity in answer.entities:
                        group = _group_for(groups, entity.name)
                        if group is None:
                            candidate = _new_candidate(text, entity.name)
                            if candidate is None:
                                continue
                            group = NameGroup([candidate])
                            groups.append(group)
                        kinds.setdefault(id(group), []).append(entity.kind)
                    for fact in answer.facts:
                        group = _group_for(groups, fact.name)
                        if group is None:
                            continue
                        if isinstance(fact, _LLMSentenceFact):
                            n = fact.sentence
                            where = numbered[n - 1] if 1 <= n <= len(numbered) else None
                            if where is not None and not _grounded(
                                text[where[0] : where[1]], group, fact.value
                            ):
                                result.ungrounded += 1
                                continue
                        else:
                            where = normalized.find(fact.quote, near=start)
                        if where is None:
                            result.dropped_quotes += 1
                            continue
                        facts.append((group, fact, where))
            if on_window is not None:
                on_window(n + 1, len(spans))
    kind_of: dict[str, str] = {}
    for group in groups:
        name = group.name
        votes = kinds.get(id(group), [])
        fallback = group.kind_hint or "character"
        kind = max(sorted(set(votes)), key=votes.count) if votes else fallback
        kind_of[name] = kind
        result.entities.append(ExtractedEntity(name, kind, group.surfaces, group.mentions))
        counts = result.spellings.setdefault(name, {})
        for c in group.candidates:
            counts[c.surface] = counts.get(c.surface, 0) + c.count
        if group.known is not None:
            result.known_ids[name] = group.known.id
    # The patterns speak of people (eyes, ages, kin): a place or a group takes none.
    names = Names.of(
        ((g.name, g.surfaces) for g in groups), [n for n, k in kind_of.items() if k != "character"]
    )
    patterned = [f for f in pattern_facts(text, names) if kind_of.get(f.entity_name) == "character"]
    # The cues' facts of free prose, where no typed pattern read the same person's same
    # attribute in that sentence.
    read = [(f.entity_name, f.attribute, f.start, f.end) for f in patterned]
    for cue in cue_facts(text, names):
        if kind_of.get(cue.entity) != "character" or any(
            n == cue.entity and a == cue.attribute and s < cue.end and cue.start < e
            for n, a, s, e in read
        ):
            continue
        patterned.append(
            ExtractedFact(cue.entity, cue.attribute, cue.value, cue.quote, cue.start, cue.end, None)
        )
    seen = {(f.entity_name, f.attribute, f.value.casefold(), f.start) for f in patterned}
    result.facts.extend(patterned)
    # A model's fact about a sentence the patterns already read adds nothing but noise.
    covered = {(f.entity_name, f.attribute, f.start) for f in patterned}
    for group, fact, (start, end) in facts:
        value = " ".join(fact.value.split())
        key = (group.name, fact.attribute, value.casefold(), start)
        if key in seen or (group.name, fact.attribute, start) in covered:
            continue
        seen.add(key)
        story_time = " ".join(fact.story_time.split()) or None
        result.facts.append(
            ExtractedFact(
                group.name, fact.attribute, value, text[start:end], start, end, story_time
            )
        )
    return result


def _names_block(groups: Sequence[NameGroup]) -> str:
    return "\n".join(
        f"- {g.name}"
        + (f" ({', '.join(s for s in g.surfaces if s != g.name)})" if len(g.surfaces) > 1 else "")
        for g in groups
    )


def _ignore(_piece: str) -> None:
    return None


def _ask(
    llm: LLMClient,
    language: str,
    passage: str,
    groups: Sequence[NameGroup],
    profile: str | None,
) -> LLMAnswer | CompactAnswer | None:
    """One window's answer; None when the model's JSON stayed invalid (the window keeps its
    deterministic entities and gives no facts)."""
    compact = profile == "compact"
    messages = load_prompt("bible_facts", language, profile or "full").render(
        names=_names_block(groups),
        text=passage,
        max_facts=str(COMPACT_FACTS if compact else MAX_FACTS),
        attributes=", ".join(ATTRIBUTES),
    )
    tokens = COMPACT_TOKENS if compact else MAX_TOKENS
    answer: LLMAnswer | CompactAnswer
    try:
        if compact:
            answer, _ = complete_json(
                llm, messages, CompactAnswer, on_delta=_ignore, max_tokens=tokens, temperature=0.1
            )
        else:
            answer, _ = complete_json(
                llm, messages, LLMAnswer, on_delta=_ignore, max_tokens=tokens, temperature=0.1
            )
    except TransientLLMError:
        raise
    except StructuredOutputError as exc:
        log.warning("bible extraction: a window's answer stayed invalid: %s", exc)
        return None
    return answer
