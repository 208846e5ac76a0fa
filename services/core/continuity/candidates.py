"""Candidate conflicts, found deterministically from facts with quotes (the audit's own pattern
layer and the story bible's facts): the same entity and attribute with incompatible values in
two chapters, an age that does not fit the time gone by or a birth year, an entity acting after
a chapter says it died or left for good, story-time markers that run backwards, and a thing
done "as always" that an earlier chapter says is never done.

A later fact that the text near its quote explains (dyed, became, now, a flashback, a rumour
denied) or that the author or the bible marks as a change is not a candidate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import Stemmer

from services.core.bible.text_facts import (
    AGE,
    BIRTH,
    CONDITION,
    DATE,
    EYES,
    HAIR,
    INCOME,
    LAME,
    NEVER_OWNED,
    OCCUPATION,
    OWNS,
    RELATION,
    Names,
    TextFact,
    carried_over,
    denies,
    fold,
    in_speech,
    name_spans,
    sentence_bounds,
    subject_before,
)


@dataclass(frozen=True)
class ChapterDoc:
    id: str
    position: int
    title: str
    revision: int
    text: str


@dataclass(frozen=True)
class Cite:
    chapter: ChapterDoc
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class ChapterFact:
    chapter: ChapterDoc
    fact: TextFact
    explained: bool = False  # the bible or the author says it is a change (until, intentional)


@dataclass
class Candidate:
    type: str  # fact | timeline | characterisation | world_rule
    severity: str  # low | medium | high
    entity: str | None
    attribute: str | None
    values: tuple[str, str]
    citations: list[Cite]
    # Sure enough to stand without the judge (same entity, a typed attribute, no marker).
    confident: bool = True
    reason: str = ""
    judged: bool = field(default=False)

    @property
    def chapter_ids(self) -> set[str]:
        return {c.chapter.id for c in self.citations}


# Text near a later quote that makes a difference an explained change, not an error.
_CHANGE = re.compile(
    r"\b(?:dyed|dye|dyeing|bleached|became|become|had\s+become|from\s+then\s+on|"
    r"since\s+then|changed|birthday|moved|new\s+job|"
    r"tingiu|tingido|tingida|tinta|pintou|pintado|pintada|pintar|virou|tornou-se|tornara-se|"
    r"desde\s+ent[aã]o|dali\s+em\s+diante|a\s+partir\s+d[ae]|mudou|mudou-se|mudara|"
    r"anivers[aá]rio|fez\s+\w+\s+anos|completou)\b",
    re.I,
)
# Weak markers: a change only in the quote's own sentence ("Mara, now eighteen").
_CHANGE_HERE = re.compile(
    r"\b(?:now|no\s+longer|any\s+more|anymore|turned|agora|j[aá]\s+n[aã]o)\b", re.I
)
_FLASHBACK = re.compile(
    r"\b(?:years\s+before|years\s+earlier|years\s+ago|long\s+ago|remembered|remember|recalled|"
    r"memory|as\s+a\s+child|when\s+she\s+was|when\s+he\s+was|"
    r"anos\s+antes|anos\s+atr[aá]s|muito\s+tempo\s+atr[aá]s|lembr\w*|record\w*|mem[oó]ria|"
    r"quando\s+(?:era|tinha)|em\s+crian[cç]a|naquele\s+tempo|"
    r"since\s+(?:he|she|I|we|they)\s+(?:was|were)|desde\s+(?:que\s+era|menin[oa]|pequen[oa]))\b",
    re.I,
)
_HEARSAY = re.compile(
    r"\b(?:word\s+had\s+come|word\s+came|rumou?r|it\s+was\s+said|they\s+said|was\s+said\s+to|"
    r"news\s+came|boato|diziam|dizia-se|dizem|not[ií]cia|soube-se|contaram)\b",
    re.I,
)
_DENIED = re.compile(
    r"\b(?:false|not\s+dead|alive|had\s+not\s+died|hadn't\s+died|boato|vivo|viva|"
    r"n[aã]o\s+tinha\s+morrido|n[aã]o\s+morreu|falsa|falso)\b",
    re.I,
)
_MEMORY = re.compile(
    r"\b(?:remembered|remember|memory|grave|funeral|late|ghost|dream\w*|portrait|buried|"
    r"died|dead|death|lembr\w*|saudade|t[uú]mulo|enterro|falecid\w*|finad\w*|sonh\w*|"
    r"retrato|morte|morreu|morrera|defunt\w*|alma)\b",
    re.I,
)
_ACTS = re.compile(
    r"\b(?:came|come|said|asked|answered|replied|walked|poured|preached|laughed|smiled|stood|"
    r"sat|entered|appeared|shouted|called|spoke|arrived|brought|took|gave|danced|sang|"
    r"apareceu|disse|perguntou|respondeu|entrou|chegou|veio|celebrou|sorriu|riu|gritou|falou|"
    r"andou|trouxe|deu|dançou|cantou|pregou|serviu|sentou|levantou)\b",
    re.I,
)
# "as de S. Pedro", "the house of Mr. Bennet": the name is not who acts (a saint, an owner).
_NOT_THE_ONE_BEFORE = re.compile(
    r"(?:\b(?:of|de|da|do|from|para|com|S\.|St\.|Saint|S[aã]o|Santo|Santa)|['’]s)\s+$", re.I
)
_SHORT_LATER = re.compile(
    r"\b(?:(?:\w+|\d+)\s+(?:days?|weeks?|nights?)\s+later|the\s+next\s+(?:day|week|morning)|"
    r"(?:\w+|\d+)\s+(?:dias?|semanas?|noites?)\s+depois|no\s+dia\s+seguinte|"
    r"na\s+semana\s+seguinte)\b",
    re.I,
)
# "that same afternoon", "daquella mesma tarde": the same moment as the chapter before told,
# so its month must be that one.
_SAME_TIME = re.compile(
    r"\b(?:(?:that|the)\s+same\s+(?:day|evening|night|morning|afternoon|week)|"
    r"(?:d?[ao]quel+[ae]|nesse|nessa|naquel+[ae]|d?esse|d?essa)\s+mesm[ao]\s+"
    r"(?:tarde|noite|manh[aã]|dia|semana)|mesm[ao]\s+(?:tarde|noite|manh[aã]|dia|semana))\b",
    re.I,
)
# "It was the twentieth of October", "Era Março", "Estávamos em abril": the narrator states
# the story's date now, at the start of a sentence.
_NOW_IS = re.compile(
    r"^(?:It\s+was(?:\s+(?:now|by\s+now|already))?|Era(?:\s+já)?|Estávamos(?:\s+já)?(?:\s+em)?)"
    r"\s+(?:the\s+|o\s+|a\s+|in\s+|em\s+)?(?:\w+\s+){0,3}$",
    re.I,
)
# Time moving on far enough for the calendar to start again.
_YEAR_PASSES = re.compile(
    r"\b(?:a\s+year|years?\s+later|next\s+year|the\s+following\s+year|new\s+year|"
    r"um\s+ano|anos?\s+depois|ano\s+seguinte|ano\s+novo|pr[oó]ximo\s+ano)\b",
    re.I,
)
_MONTHS = (
    "january|february|march|april|june|july|august|september|october|november|december|"
    "janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|"
    "dezembro"
)
_MONTH_NUMBER = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
} | {
    m: i
    for i, m in enumerate(
        [
            "janeiro",
            "fevereiro",
            "marco",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ],
        1,
    )
}
_MONTH_WORD = re.compile(rf"\b(?:{_MONTHS}|May)\b", re.I)
_CHANGE_WINDOW = 400  # characters around a later quote where a change marker counts


def in_sentence(text: str, start: int, end: int, pattern: re.Pattern[str]) -> bool:
    """Whether the pattern occurs in the sentence of text[start:end]."""
    s_start, s_end = sentence_bounds(text, start, end)
    return pattern.search(text[s_start:s_end]) is not None


def led_by(text: str, start: int, end: int, pattern: re.Pattern[str]) -> bool:
    """Whether the pattern occurs in the sentence of text[start:end] before that span ends:
    "When she was a girl she was ten" is a memory; "he was forty-five, with a moustache his
    daughter pulled when she was little" is not."""
    s_start, _ = sentence_bounds(text, start, end)
    return pattern.search(text[s_start:end]) is not None


_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]*\s+")


def near(text: str, start: int, end: int, pattern: re.Pattern[str]) -> bool:
    """Whether the pattern occurs around text[start:end]: from the sentence before to two
    sentences after (across a paragraph break: "Her hair was yellow." / "I dyed it," she said)."""
    s_start, s_end = sentence_bounds(text, start, end)
    before = list(_SENTENCE_END.finditer(text, max(0, s_start - _CHANGE_WINDOW), s_start))
    left = before[-2].end() if len(before) >= 2 else max(0, s_start - _CHANGE_WINDOW)
    right = s_end
    for count, match in enumerate(_SENTENCE_END.finditer(text, s_end, s_end + _CHANGE_WINDOW)):
        right = match.end()
        if count == 1:
            break
    else:
        right = min(len(text), s_end + _CHANGE_WINDOW)
    return pattern.search(text[left:right]) is not None


def _cite(chapter: ChapterDoc, fact: TextFact) -> Cite:
    return Cite(chapter, fact.quote, fact.start, fact.end)


def _cite_span(chapter: ChapterDoc, start: int, end: int) -> Cite:
    s_start, s_end = sentence_bounds(chapter.text, start, end)
    while s_end > s_start and chapter.text[s_end - 1].isspace():
        s_end -= 1
    return Cite(chapter, chapter.text[s_start:s_end], s_start, s_end)


def _value_conflicts(facts: Sequence[ChapterFact]) -> list[Candidate]:
    """Typed attributes (eyes, hair, occupation) whose value in a later chapter differs from
    the last value before it, with nothing near the later quote explaining a change."""
    out: list[Candidate] = []
    groups: dict[tuple[str, str], list[ChapterFact]] = {}
    for item in facts:
        if item.fact.entity and (
            item.fact.attribute in (EYES, HAIR, OCCUPATION, LAME, INCOME)
            or item.fact.attribute.startswith(RELATION)
        ):
            groups.setdefault((item.fact.entity, item.fact.attribute), []).append(item)
    for (entity, attribute), items in groups.items():
        items.sort(key=lambda i: (i.chapter.position, i.fact.start))
        state: ChapterFact | None = None
        reported: set[str] = set()
        for item in items:
            if state is not None and state.chapter.position < item.chapter.position:
                same_chapter = {
                    i.fact.value for i in items if i.chapter.position == state.chapter.position
                }
                text = item.chapter.text
                explained = (
                    item.explained
                    or near(text, item.fact.start, item.fact.end, _CHANGE)
                    or in_sentence(text, item.fact.start, item.fact.end, _CHANGE_HERE)
                    or in_sentence(text, item.fact.start, item.fact.end, _FLASHBACK)
                )
                if item.fact.value not in same_chapter and not explained:
                    if item.chapter.id not in reported:
                        reported.add(item.chapter.id)
                        out.append(
                            Candidate(
                                type="fact",
                                severity="high" if attribute == EYES else "medium",
                                entity=entity,
                                attribute=attribute,
                                values=(state.fact.value, item.fact.value),
                                citations=[
                                    _cite(state.chapter, state.fact),
                                    _cite(item.chapter, item.fact),
                                ],
                                confident=attribute == EYES,
                                reason="value",
                            )
                        )
                    continue  # an unexplained odd value does not become the new state
            state = item
    return out


@dataclass
class _Timeline:
    """The narrative year as of each chapter (the last year named outside a flashback)."""

    years: dict[str, int]


def _timeline(chapters: Sequence[ChapterDoc], facts: Sequence[ChapterFact]) -> _Timeline:
    years: dict[str, int] = {}
    year: int | None = None
    by_chapter: dict[str, list[ChapterFact]] = {}
    for item in facts:
        by_chapter.setdefault(item.chapter.id, []).append(item)
    for chapter in sorted(chapters, key=lambda c: c.position):
        for item in by_chapter.get(chapter.id, []):
            if item.fact.attribute != DATE or item.fact.value.startswith("0000"):
                continue
            text = chapter.text
            if in_sentence(text, item.fact.start, item.fact.end, _FLASHBACK):
                continue
            if _BORN_NEAR.search(item.fact.quote):
                continue
            year = int(item.fact.value[:4])
        if year is not None:
            years[chapter.id] = year
    return _Timeline(years)


_BORN_NEAR = re.compile(r"\b(?:born|nascid[oa]|nasceu)\b", re.I)


def _ages(facts: Sequence[ChapterFact], timeline: _Timeline) -> list[Candidate]:
    out: list[Candidate] = []
    groups: dict[str, list[ChapterFact]] = {}
    for item in facts:
        if item.fact.entity and item.fact.attribute == AGE:
            text = item.chapter.text
            if (
                led_by(text, item.fact.match_start, item.fact.match_end, _FLASHBACK)
                or item.explained
            ):
                continue
            groups.setdefault(item.fact.entity, []).append(item)
    for entity, items in groups.items():
        items.sort(key=lambda i: (i.chapter.position, i.fact.start))
        first = items[0]
        for later in items[1:]:
            if later.chapter.position <= first.chapter.position:
                continue
            elapsed = max(
                0,
                timeline.years.get(later.chapter.id, 0) - timeline.years.get(first.chapter.id, 0),
            )
            diff = int(later.fact.value) - int(first.fact.value)
            if elapsed <= diff <= elapsed + 1:
                continue
            out.append(
                Candidate(
                    type="fact",
                    severity="high" if abs(diff) > 2 else "medium",
                    entity=entity,
                    attribute=AGE,
                    values=(first.fact.value, later.fact.value),
                    citations=[_cite(first.chapter, first.fact), _cite(later.chapter, later.fact)],
                    confident=abs(diff - elapsed) > 2,
                    reason="age",
                )
            )
            break
    # An age in a year against a stated birth year.
    births = [i for i in facts if i.fact.entity and i.fact.attribute == BIRTH]
    for birth in births:
        for item in groups.get(birth.fact.entity or "", []):
            year = timeline.years.get(item.chapter.id)
            if year is None or item.chapter.id == birth.chapter.id:
                continue
            implied = year - int(item.fact.value)
            if abs(implied - int(birth.fact.value)) > 1:
                out.append(
                    Candidate(
                        type="timeline",
                        severity="medium",
                        entity=birth.fact.entity,
                        attribute=BIRTH,
                        values=(str(implied), birth.fact.value),
                        citations=[
                            _cite(item.chapter, item.fact),
                            _cite(birth.chapter, birth.fact),
                        ],
                        confident=abs(implied - int(birth.fact.value)) > 2,
                        reason="birth",
                    )
                )
                break
    return out


def _after_condition(
    chapters: Sequence[ChapterDoc], facts: Sequence[ChapterFact], names: Names
) -> list[Candidate]:
    out: list[Candidate] = []
    ordered = sorted(chapters, key=lambda c: c.position)
    spans = {c.id: name_spans(c.text, names) for c in ordered}
    done: set[str] = set()
    for item in facts:
        fact = item.fact
        if fact.attribute != CONDITION or not fact.entity or fact.entity in done:
            continue
        text = item.chapter.text
        if item.explained or near(text, fact.start, fact.end, _HEARSAY):
            continue
        if in_sentence(text, fact.start, fact.end, _FLASHBACK):
            continue
        later_chapters = [c for c in ordered if c.position > item.chapter.position]
        denied = any(
            near(c.text, s, e, _DENIED)
            for c in later_chapters
            for s, e, name in spans[c.id]
            if name == fact.entity
        )
        if denied:
            continue
        for chapter in later_chapters:
            hit: tuple[int, int] | None = None
            for start, end, name in spans[chapter.id]:
                if name != fact.entity:
                    continue
                s_start, s_end = sentence_bounds(chapter.text, start, end)
                sentence = chapter.text[s_start:s_end]
                if _NOT_THE_ONE_BEFORE.search(chapter.text[max(0, start - 12) : start]):
                    continue
                if _ACTS.search(sentence) and not _MEMORY.search(sentence):
                    hit = (start, end)
                    break
            if hit is not None:
                done.add(fact.entity)
                word = "died" if fact.value == "dead" else "left"
                out.append(
                    Candidate(
                        type="fact",
                        severity="high",
                        entity=fact.entity,
                        attribute=CONDITION,
                        values=(fact.value, "acts"),
                        citations=[
                            Cite(item.chapter, fact.quote, fact.start, fact.end),
                            _cite_span(chapter, *hit),
                        ],
                        confident=True,
                        reason=word,
                    )
                )
                break
    return out


def _date_key(value: str, year: int | None) -> tuple[int, int, int] | None:
    if "-S" in value:
        return None
    y, m, d = value.split("-")
    return (int(y) if y != "0000" else (year or 0), int(m), int(d))


def _dates(
    chapters: Sequence[ChapterDoc], facts: Sequence[ChapterFact], tl: _Timeline
) -> list[Candidate]:
    """Explicit dates that run backwards from one chapter to a later one, and a month named
    "days/weeks later" that comes before the month of the chapter before."""
    out: list[Candidate] = []
    ordered = sorted(chapters, key=lambda c: c.position)
    by_chapter: dict[str, list[ChapterFact]] = {}
    for item in facts:
        if item.fact.attribute == DATE:
            by_chapter.setdefault(item.chapter.id, []).append(item)
    latest: tuple[tuple[int, int, int], ChapterFact] | None = None
    last_month: tuple[int, Cite] | None = None
    for chapter in ordered:
        text = chapter.text
        for item in sorted(by_chapter.get(chapter.id, []), key=lambda i: i.fact.start):
            fact = item.fact
            if in_speech(text, fact.start) or in_sentence(text, fact.start, fact.end, _FLASHBACK):
                continue
            if _BORN_NEAR.search(fact.quote):
                continue
            key = _date_key(fact.value, tl.years.get(chapter.id))
            if key is None or key[0] == 0:
                continue
            if (
                latest is not None
                and key < latest[0]
                and latest[1].chapter.position < chapter.position
                and key[0] == latest[0][0]
            ):
                out.append(
                    Candidate(
                        type="timeline",
                        severity="medium",
                        entity=None,
                        attribute=DATE,
                        values=(latest[1].fact.value, fact.value),
                        citations=[_cite(latest[1].chapter, latest[1].fact), _cite(chapter, fact)],
                        confident=_SHORT_LATER.search(fact.quote) is not None,
                        reason="date",
                    )
                )
            if latest is None or key > latest[0]:
                latest = (key, item)
        # Months: "two weeks later, in July" after a chapter in October.
        for match in _MONTH_WORD.finditer(text):
            if match.group(0) == "may" or in_speech(text, match.start()):
                continue
            month = _MONTH_NUMBER.get(fold(match.group(0)))
            if month is None:
                continue
            s_start, s_end = sentence_bounds(text, match.start(), match.end())
            sentence = text[s_start:s_end]
            if (
                last_month is not None
                and not any(c.citations[-1].chapter.id == chapter.id for c in out)
                and last_month[1].chapter.position < chapter.position
                and _backwards(chapter, last_month, month, s_start, match.start())
                and not _FLASHBACK.search(sentence)
            ):
                out.append(
                    Candidate(
                        type="timeline",
                        severity="medium",
                        entity=None,
                        attribute="season",
                        values=(str(last_month[0]), str(month)),
                        citations=[last_month[1], _cite_span(chapter, match.start(), match.end())],
                        confident=True,
                        reason="month",
                    )
                )
            if not in_sentence(text, match.start(), match.end(), _FLASHBACK):
                last_month = (month, _cite_span(chapter, match.start(), match.end()))
    return out


def _backwards(
    chapter: ChapterDoc, last: tuple[int, Cite], month: int, s_start: int, position: int
) -> bool:
    """Whether a month named in a later chapter takes the story back from the month before:
    earlier "days later"; another month "that same afternoon"; earlier in a date the narrator
    states ("It was the twentieth of October") in the very next chapter, no year passing."""
    sentence = chapter.text[s_start : sentence_bounds(chapter.text, position, position)[1]]
    if _SAME_TIME.search(sentence):
        return month != last[0]
    if month >= last[0]:
        return False
    if _SHORT_LATER.search(sentence):
        return True
    return (
        chapter.position == last[1].chapter.position + 1
        and _NOW_IS.match(chapter.text[s_start:position]) is not None
        and not _YEAR_PASSES.search(chapter.text[:position])
    )


# "Never" in one chapter against "as always" / "every Sunday" in a later one, about the same
# thing: a stated rule broken as if it were normal, or a habit reversed.
_NEVER = re.compile(
    r"\b(?:never|nunca|jamais|em\s+tempo\s+algum)\b|"
    # English "No boat left": case-sensitive, and with a verb after, so the Portuguese "No dia"
    # ("on the day") is not read as one.
    r"(?-i:\bNo)\s+\w+\s+(?:\w+ed|ever|was|were|could|would|had|did|may|might|must|should|"
    r"left|went|came|took|ran|rang|sailed)\b",
    re.I,
)
_WEEKDAYS = "sunday|monday|tuesday|wednesday|thursday|friday|saturday"
# What a rule broken "as if it were normal" is told with. Plain "every day" / "todos os dias"
# is everyday prose (18 false alarms on Pride and Prejudice), so it is left out.
_HABIT = re.compile(
    r"\b(?:as\s+always|as\s+usual|as\s+(?:he|she|it|they|we|the\s+\w+)\s+did\s+every\s+\w+|"
    rf"every\s+(?:{_WEEKDAYS})|como\s+sempre|como\s+de\s+costume|"
    r"como\s+(?:fazia|faziam|fazemos|era\s+costume)\s+tod[oa]s\s+(?:as|os)\s+\w+|"
    r"como\s+tod[oa]s\s+(?:as|os)\s+\w+|tod[oa]s?\s+(?:as|os|o|a)\s+"
    r"(?:domingos?|s[aá]bados?))\b",
    re.I,
)
_FIRST_TIME = re.compile(
    r"\b(?:for\s+the\s+first\s+time|first\s+time|pela\s+primeira\s+vez|primeira\s+vez)\b", re.I
)
# Words that say nothing of what is done: function words, and the markers themselves.
_PLAIN_WORDS = frozenset(
    """that this with from have been were they them their there what when which would could
    should into upon than then very more some such only also said like just once even ever
    always usual never every como para pelo pela pelos pelas mais quando muito sobre esta
    este isso isto aquele aquela ainda depois antes tinha eram foram seria sempre todo toda
    todos todas nunca ninguem nenhum nenhuma tempo algum alguma costume dele dela deles
    elas eles voce""".split()  # noqa: SIM905
)
# "I never ..." is someone's own story (a first-person narrator's too), not a rule.
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|we|us|our|eu|meu|minha|n[oó]s|nosso|nossa)\b")
_SHARED_FOR_HABIT = 2  # content words the two sentences must share


# Both languages' stems: a book's own language is enough, the other costs nothing.
_STEMMERS = (Stemmer.Stemmer("english"), Stemmer.Stemmer("portuguese"))


def _content_stems(sentence: str) -> set[str]:
    words = [w for w in re.findall(r"\w{4,}", fold(sentence)) if w not in _PLAIN_WORDS]
    stems: set[str] = set()
    for stemmer in _STEMMERS:
        stems.update(stemmer.stemWords(words))
    return stems


_CLAUSE_BREAK = re.compile(r"[;:—–]")
# A "never" speaks of its own relative clause: "red hair that the wind would never leave
# alone" says nothing about the hair being combed.
_NEVER_CLAUSE_BREAK = re.compile(r"[;:—–]|\b(?:that|which|who|whom|whose|where|que|onde|quem)\b")


def _sentences_with(
    chapter: ChapterDoc, pattern: re.Pattern[str], breaks: re.Pattern[str] = _CLAUSE_BREAK
) -> list[tuple[int, int, set[str]]]:
    """The sentences where `pattern` occurs, with the content stems of the clause it is in
    (between `breaks`: by default semicolons, colons and dashes)."""
    out: list[tuple[int, int, set[str]]] = []
    seen: set[int] = set()
    for match in pattern.finditer(chapter.text):
        start, end = sentence_bounds(chapter.text, match.start(), match.end())
        if start in seen:
            continue
        seen.add(start)
        cuts = [m.start() for m in breaks.finditer(chapter.text, start, end)]
        left = max((b for b in cuts if b < match.start()), default=start)
        right = min((b for b in cuts if b >= match.end()), default=end)
        out.append((start, end, _content_stems(chapter.text[left:right])))
    return out


def _habits(chapters: Sequence[ChapterDoc]) -> list[Candidate]:
    """A later sentence that does "as always" what an earlier chapter's sentence says is never
    done, the two sharing at least two content words (stemmed in English and Portuguese), both
    told by the narrator (what a character says "never" of is an opinion, not a rule of the
    world). Not sure enough to stand alone: the judge weighs it."""
    ordered = sorted(chapters, key=lambda c: c.position)
    nevers: list[tuple[ChapterDoc, int, int, set[str]]] = []
    out: list[Candidate] = []
    for chapter in ordered:
        for start, end, stems in _sentences_with(chapter, _HABIT):
            sentence = chapter.text[start:end]
            if _NEVER.search(sentence) or _FIRST_TIME.search(sentence):
                continue
            habit = _HABIT.search(sentence)
            if habit is None or in_speech(chapter.text, start + habit.start(), "\n\n"):
                continue
            if near(chapter.text, start, end, _CHANGE) or _FLASHBACK.search(sentence):
                continue
            best = max(
                (
                    (len(stems & n_stems), n_chapter, n_start, n_end)
                    for n_chapter, n_start, n_end, n_stems in nevers
                    if n_chapter.position < chapter.position
                ),
                key=lambda x: x[0],
                default=None,
            )
            if best is None or best[0] < _SHARED_FOR_HABIT:
                continue
            _, n_chapter, n_start, n_end = best
            out.append(
                Candidate(
                    type="world_rule",
                    severity="medium",
                    entity=None,
                    attribute=None,
                    values=(
                        " ".join(n_chapter.text[n_start:n_end].split()),
                        " ".join(sentence.split()),
                    ),
                    citations=[
                        _cite_span(n_chapter, n_start, n_end),
                        _cite_span(chapter, start, end),
                    ],
                    confident=False,
                    reason="habit",
                )
            )
        for start, end, stems in _sentences_with(chapter, _NEVER, _NEVER_CLAUSE_BREAK):
            # "Every night he wrote ... in a hand that never changed" states a habit, no rule.
            sentence = chapter.text[start:end]
            never = _NEVER.search(sentence)
            if (
                never is None
                or _HABIT.search(sentence)
                or _FIRST_PERSON.search(sentence)
                or in_speech(chapter.text, start + never.start(), "\n\n")
            ):
                continue
            nevers.append((chapter, start, end, stems))
    return out


# Traits by dimension, two poles each: a character told as one pole, then later as the other
# "as always" / "como sempre", is a characterisation slip. Only words that describe a person
# when said of one ("calm", "avarento"); ambiguous ones ("cold", "open", "short") are left out.
_TRAITS: dict[str, tuple[str, str]] = {
    "temper": (
        r"calm|calmest|placid|gentle|mild|patient|serene|even-tempered|"
        r"never\s+raised\s+(?:his|her)\s+voice|calm[oa]|seren[oa]|paciente|mans[oa]|tranquil[oa]",
        r"roar\w*|rages?|furious|hot-tempered|irascible|irritable|violent|bad-tempered|"
        r"col[eé]ric[oa]|irasc[ií]vel|violent[oa]|berrava|esbravej\w*",
    ),
    "sociability": (
        r"sociable|affable|amiable|agreeable|friendly|talkative|open\s+and\s+\w+|most\s+open|"
        r"soci[aá]vel|af[aá]vel|expansiv[oa]|conversador[a]?|simp[aá]tic[oa]",
        r"proud|proudest|haughty|disagreeable|unsociable|aloof|arrogant|taciturn|"
        r"orgulhos[oa]|soberb[oa]|arrogante|antip[aá]tic[oa]|taciturn[oa]|insoci[aá]vel",
    ),
    "generosity": (
        r"generous|charitable|open-handed|generos[oa]|caridos[oa]|m[aã]os?\s+abertas?",
        r"miserly|stingy|avaricious|tight-fisted|miser|avarent[oa]|avar[oa]|sovina|"
        r"mesquinh[oa]|p[aã]o-dur[oa]",
    ),
    "devotion": (
        r"devout|pious|god-fearing|devot[oa]|religios[oa]|piedos[oa]|temente\s+a\s+deus|beat[oa]",
        r"impious|irreligious|godless|atheist|[ií]mpi[oa]|ateu|ateia|incr[eé]dul[oa]",
    ),
    "courage": (
        r"brave|fearless|courageous|corajos[oa]|valente|destemid[oa]",
        r"coward|cowardly|timid|fearful|covarde|medros[oa]|t[ií]mid[oa]",
    ),
    "honesty": (
        r"honest|truthful|upright|honest[oa]|honrad[oa]|sincer[oa]",
        r"liar|dishonest|deceitful|mentiros[oa]|desonest[oa]|trapaceir[oa]",
    ),
    "build": (
        r"fat|stout|plump|corpulent|gord[oa]|obes[oa]|corpulent[oa]|gordo\s+e\s+pesado",
        r"thin|lean|slender|skinny|gaunt|magr[oa]|franzin[oa]|esqu[aá]lid[oa]",
    ),
}
_TRAIT_WORDS = [
    (dimension, pole, re.compile(rf"\b(?:{words})\b", re.I))
    for dimension, poles in _TRAITS.items()
    for pole, words in enumerate(poles)
]
# "never was devout", "nunca foi devota", "not proud": the other pole.
_NEGATED = re.compile(
    r"\b(?:never|not|n't|no\s+longer|nunca|n[aã]o|jamais)\s+(?:\w+\s+){0,2}$", re.I
)
# What makes a later description a claim that the trait was always so ("as always", "as all
# Meryton knew", "famous", "nunca foi"), not a character changing in the story.
_CONSTANT = re.compile(
    r"\b(?:as\s+always|as\s+usual|as\s+ever|always|all\s+(?:his|her)\s+life|"
    r"as\s+(?:all|everyone|everybody)\s+(?:\w+\s+)?knew|famous|well\s+known|"
    r"como\s+sempre|sempre|a\s+vida\s+(?:toda|inteira)|toda\s+a\s+vida|"
    r"como\s+tod[oa]s\s+sabiam|famos[oa]|conhecid[oa]\s+(?:em|por)|nunca\s+foi|never\s+was|"
    r"had\s+never\s+been)\b",
    re.I,
)
_BODY_CHANGES = re.compile(
    r"\b(?:grew|grown|growing|lost|put\s+on|gained|wasted|illness|ill|sick|fever|starv\w*|"
    r"emagrec\w*|engord\w*|perdeu|perdera|ganhou|doen[cç]a|doente|febre|fome|"
    r"ficou|ficara|ficando|tornou|tornara|becoming|became)\b",
    re.I,
)
_HE = re.compile(r"^(?:he|him|his|ele)\b", re.I)
_SHE = re.compile(r"^(?:she|her|ela)\b", re.I)
_FEMALE_TITLE = re.compile(
    r"^(?:miss|mrs\.?|lady|dona|d\.|sra\.?|srta\.?|tia|prima|madame)\s", re.I
)
_MALE_TITLE = re.compile(
    r"^(?:mr\.?|sir|lord|captain|colonel|reverend|dr\.?|padre|seu|dom|tio|primo|sr\.?)\s", re.I
)


def _trait_owner(
    chapter: ChapterDoc, spans: Sequence[tuple[int, int, str]], s_start: int, position: int
) -> str | None:
    """Whom the sentence describes: the first name in it before the trait; with none, the name
    that opened the last clause naming someone before it in the paragraph, skipping a lady for
    "he" and a gentleman for "she" (a "He was the proudest ..." after "Mr. Darcy danced only
    once with Mrs. Hurst ...")."""
    text = chapter.text
    inside = [s for s in spans if s_start <= s[0] < position]
    if inside:
        return inside[0][2]
    words = text[s_start:position].split()
    first = words[0] if words else ""
    title = _FEMALE_TITLE if _HE.match(first) else _MALE_TITLE if _SHE.match(first) else None
    if title is not None:
        spans = [s for s in spans if not title.match(text[s[0] : s[0] + 12])]
    return subject_before(spans, text, s_start) or carried_over(spans, text, s_start)


def _trait_mentions(
    chapter: ChapterDoc, names: Names
) -> list[tuple[str, str, int, int, int, bool]]:
    """(person, dimension, pole, sentence start, end, constant) for each narrated sentence that
    gives someone a trait."""
    text = chapter.text
    spans = [s for s in name_spans(text, names) if s[2] not in names.not_people]
    out: list[tuple[str, str, int, int, int, bool]] = []
    for dimension, pole, pattern in _TRAIT_WORDS:
        for match in pattern.finditer(text):
            if in_speech(text, match.start(), "\n\n"):
                continue
            s_start, s_end = sentence_bounds(text, match.start(), match.end())
            sentence = text[s_start:s_end]
            if led_by(text, match.start(), match.end(), _FLASHBACK) or near(
                text, s_start, s_end, _CHANGE
            ):
                continue
            person = _trait_owner(chapter, spans, s_start, match.start())
            if person is None:
                continue
            negated = bool(_NEGATED.search(text[max(s_start, match.start() - 30) : match.start()]))
            constant = bool(_CONSTANT.search(sentence))
            out.append((person, dimension, pole ^ negated, s_start, s_end, constant))
    return out


def _traits(chapters: Sequence[ChapterDoc], names: Names) -> list[Candidate]:
    """A person told with one pole of a trait (calm, generous, devout, fat) and in a later
    chapter with the other pole as a constant ("as always", "as all Meryton knew", "nunca foi"),
    both by the narrator, nothing near the later sentence telling of a change. Not sure enough
    to stand alone: the judge weighs it."""
    ordered = sorted(chapters, key=lambda c: c.position)
    seen: dict[tuple[str, str], list[tuple[ChapterDoc, int, int, int]]] = {}
    out: list[Candidate] = []
    reported: set[tuple[str, str]] = set()
    for chapter in ordered:
        mentions = _trait_mentions(chapter, names)
        for person, dimension, pole, start, end, constant in mentions:
            # A body does not turn fat or thin unnoticed: the book says so when it does.
            body = dimension == "build" and not _BODY_CHANGES.search(chapter.text[start:end])
            if not (constant or body) or (person, dimension) in reported:
                continue
            earlier = [
                m for m in seen.get((person, dimension), []) if m[0].position < chapter.position
            ]
            if not earlier or any(m[1] == pole for m in earlier):
                continue  # told both ways before: the book itself holds both views
            first, f_start, f_end = earlier[0][0], earlier[0][2], earlier[0][3]
            reported.add((person, dimension))
            out.append(
                Candidate(
                    type="characterisation",
                    severity="medium",
                    entity=person,
                    attribute=dimension,
                    values=(
                        " ".join(first.text[f_start:f_end].split()),
                        " ".join(chapter.text[start:end].split()),
                    ),
                    citations=[
                        _cite_span(first, f_start, f_end),
                        _cite_span(chapter, start, end),
                    ],
                    confident=False,
                    reason="trait",
                )
            )
        for person, dimension, pole, start, end, _constant in mentions:
            seen.setdefault((person, dimension), []).append((chapter, pole, start, end))
    return out


def _possessions(facts: Sequence[ChapterFact]) -> list[Candidate]:
    """Someone who had a thing ("kept a grey mare") says in a later chapter they never had
    one ("I never owned a horse in my life", "nunca tive um bicho"). They may lie: the judge
    weighs it."""
    out: list[Candidate] = []
    owned: dict[str, list[ChapterFact]] = {}
    for item in sorted(facts, key=lambda i: (i.chapter.position, i.fact.start)):
        entity = item.fact.entity
        if entity is None:
            continue
        if item.fact.attribute == OWNS:
            owned.setdefault(entity, []).append(item)
        elif item.fact.attribute == NEVER_OWNED:
            had = next(
                (
                    o
                    for o in owned.get(entity, [])
                    if o.chapter.position < item.chapter.position
                    and denies(item.fact.value, o.fact.value)
                ),
                None,
            )
            if had is not None:
                out.append(
                    Candidate(
                        type="fact",
                        severity="medium",
                        entity=entity,
                        attribute="possession",
                        values=(had.fact.value, item.fact.value),
                        citations=[_cite(had.chapter, had.fact), _cite(item.chapter, item.fact)],
                        confident=False,
                        reason="possession",
                    )
                )
    return out


def find_candidates(
    chapters: Sequence[ChapterDoc], facts: Sequence[ChapterFact], names: Names
) -> list[Candidate]:
    """Every candidate conflict of the book, in chapter order of their later citation."""
    timeline = _timeline(chapters, facts)
    found = (
        _value_conflicts(facts)
        + _ages(facts, timeline)
        + _after_condition(chapters, facts, names)
        + _dates(chapters, facts, timeline)
        + _habits(chapters)
        + _traits(chapters, names)
        + _possessions(facts)
    )
    found.sort(key=lambda c: (max(x.chapter.position for x in c.citations), c.citations[0].start))
    return found
