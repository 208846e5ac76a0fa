"""Deterministic name candidates in a chapter: capitalised proper nouns with their counts and
offsets, titles (D., Dona, Mr., Mrs. …) and dialogue attribution ("disse Capitu", "said
Elizabeth").

Why not an NLP library: the maintained ones with Portuguese and English models (spaCy,
Stanza) download their models from a hub at run time, or pull in hundreds of MB of wheels for
a tagger whose recall on 19th-century proper names is no better than the rules below on the
corpus novels. The rules are cheap, run per chapter in milliseconds and can be read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from services.core.llm.prompts import template_language


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalised words that are not names: articles, pronouns, conjunctions, adverbs and
# interjections that open sentences or follow a dialogue dash. Lower-case, accents kept.
STOP_WORDS: dict[str, frozenset[str]] = {
    "pt-BR": _words(
        """
        a o as os um uma uns umas e é ou mas nem se que quem qual quais quando onde como
        porque porquê pois já não sim ah oh ai eh ui olá adeus ora eis isto isso aquilo
        este esta estes estas esse essa esses essas aquele aquela aqueles aquelas eu tu
        ele ela nós vós eles elas você vocês me te lhe nos vos lhes meu minha meus
        minhas teu tua seu sua seus suas nosso nossa dele dela deles delas de da do das
        dos em na no nas nos num numa por pela pelo pelas pelos para pra com sem sob
        sobre entre até após ante desde contra ao aos à às depois antes então agora
        ainda também só apenas mesmo mesma muito muita muitos muitas pouco pouca tudo
        todo toda todos todas nada ninguém alguém algum alguma cada outro outra outros
        outras tal tais tanto tanta assim aqui ali lá cá aí hoje ontem amanhã sempre
        nunca jamais talvez enfim logo bem mal lhe há havia era foi será seria estava
        está capítulo cap parte livro fim nota vamos vem vai venha veja olhe diga sabe
        senhor senhora senhorita sr sra srta dom dona d deus janeiro fevereiro março
        abril maio junho julho agosto setembro outubro novembro dezembro domingo mais
        menos
        """
    ),
    "en": _words(
        """
        a an the and or but nor if so yet that this these those there here then than
        when where why how what which who whom whose while because as at by for from in
        into of on onto to with without within upon after before since until unless
        though although i me my mine you your yours he him his she her hers it its we us
        our ours they them their theirs yes no not oh ah alas well now still also only
        even just all any each every some none one two three many much more most such
        both either neither never always perhaps indeed chapter part book end note let
        come go do does did is was were be been are am has have had will would shall
        should can could may might must mr mrs miss ms sir madam lady lord dr god monday
        tuesday wednesday thursday friday saturday sunday january february march april
        may june july august september october november december
        """
    ),
}

# Titles before a name, each with the class that tells them apart in keys: "Mr. Bennet" and
# "Mrs. Bennet" are two people; "D. Glória" and "Dona Glória" are one.
TITLES: dict[str, str] = {
    "d": "d",
    "d.": "d",
    "dona": "d",
    "dom": "d",
    "sr": "sr",
    "sr.": "sr",
    "senhor": "sr",
    "sra": "sra",
    "sra.": "sra",
    "senhora": "sra",
    "srta": "srta",
    "srta.": "srta",
    "senhorita": "srta",
    "dr": "dr",
    "dr.": "dr",
    "doutor": "dr",
    "padre": "padre",
    "tio": "tio",
    "tia": "tia",
    "prima": "prima",
    "primo": "primo",
    "mano": "mano",
    "mana": "mana",
    "mr": "mr",
    "mr.": "mr",
    "mrs": "mrs",
    "mrs.": "mrs",
    "miss": "miss",
    "ms": "miss",
    "ms.": "miss",
    "sir": "sir",
    "lady": "lady",
    "lord": "lord",
    "colonel": "colonel",
    "captain": "captain",
}
# Titles of kinship by which relatives address one person ("Tio Cosme" to the boy, "Mano Cosme"
# to his sister, "Prima Gloria" to her cousin): unlike "Mr."/"Mrs." they tell no two people
# apart, so they yield to a civil title of the same name.
KIN_TITLES = frozenset({"tio", "tia", "prima", "primo", "mano", "mana"})
# Lower-case words that may sit inside a name: "Rua de Matacavalos", "Duke of York".
PARTICLES: dict[str, frozenset[str]] = {
    "pt-BR": frozenset({"de", "da", "do", "das", "dos", "d'"}),
    "en": frozenset({"of", "de", "van", "von"}),
}
SAY_VERBS: dict[str, str] = {
    "pt-BR": (
        "disse|respondeu|perguntou|exclamou|gritou|murmurou|replicou|acudiu|continuou|tornou|"
        "redarguiu|falou|insistiu|concluiu|atalhou|bradou|suspirou|sussurrou|emendou|explicou"
    ),
    "en": (
        "said|asked|replied|cried|answered|whispered|exclaimed|continued|added|shouted|"
        "muttered|returned|observed|rejoined|remarked|resumed|called"
    ),
}
PLACE_WORDS = _words(
    """
        rua praça largo rio morro igreja cidade vila fazenda beco travessa estrada
        avenida ilha bairro campo porto serra capela seminário colégio street square
        lane road river hill church town city village park hall house court manor abbey
        island bridge
        """
)
# A verb with an attached pronoun: "Levantou-se", "Approximei-me", "Disse-lhe".
_CLITIC = re.compile(r"-(?:me|te|se|lhe|lhes|nos|vos|o|a|os|as|lo|la|no|na)$", re.IGNORECASE)
PARTICLES_ALL = frozenset().union(*PARTICLES.values())
# A double hyphen is a dash ("Elizabeth--and"), not a compound's hyphen.
_WORD = re.compile(r"[^\W\d_](?:(?:[\w’']|-(?!-))*\w)?\.?")
_SENTENCE_END = ".!?…:;"
# Prepositions of place ("looked at Mara" is no place: "at" counts after no verb of looking).
LOCATIVE = re.compile(
    r"(?:\b(?:in|into|inside|em|no|na|nos|nas|num|numa)|"
    r"(?<!looked\s)(?<!looks\s)(?<!stared\s)(?<!glanced\s)(?<!smiled\s)(?<!laughed\s)"
    r"(?<!gazed\s)(?<!shouted\s)(?<!nodded\s)\bat)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_OPENERS = "\"“”'‘’«»—–-([ \t\r\f\v"


@dataclass
class Candidate:
    """One spelling of a name in a chapter."""

    surface: str
    title: str | None  # the title class ("d", "mr" …) when the name carries one
    spans: list[tuple[int, int]] = field(default_factory=list)
    mid_sentence: int = 0  # occurrences not at a sentence start
    dialogue: int = 0  # occurrences next to a verb of saying
    locative: int = 0  # occurrences after "in", "at", "em", "na" …: where, not who

    @property
    def count(self) -> int:
        return len(self.spans)

    @property
    def weak(self) -> bool:
        """One word seen once, at a sentence start, never said to speak: a name only if the
        book knows it, or another spelling of the same entity is stronger."""
        return (
            self.count < 2
            and not self.mid_sentence
            and not self.dialogue
            and len(self.surface.split()) == 1
        )

    @property
    def kind_hint(self) -> str | None:
        if self.title or self.dialogue:
            return "character"
        words = self.surface.split()
        if words and fold(words[0]) in PLACE_WORDS:
            return "place"
        # "in Saltmere", "em Braga", "at Longbourn" more often than not: somewhere.
        if self.locative and 2 * self.locative >= self.count:
            return "place"
        return None


def fold(value: str) -> str:
    """Lower case without accents: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def split_title(surface: str) -> tuple[str | None, str]:
    """("d", "Glória") for "D. Glória"; (None, "Capitu") for "Capitu"."""
    words = surface.split()
    if len(words) > 1 and words[0].lower() in TITLES:
        return TITLES[words[0].lower()], " ".join(words[1:])
    return None, surface


def name_key(surface: str) -> str:
    """The key one name has in a book: its title class and its folded words."""
    title, rest = split_title(" ".join(surface.split()))
    rest = re.sub(r"[’']s$", "", rest)
    folded = " ".join(fold(rest).replace("’", "'").split())
    return f"{title}|{folded}" if title else folded


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() and not (len(word) > 1 and word.isupper() and "." not in word)


def _at_sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    if i < 0:
        return True
    return text[i] in _SENTENCE_END or text[i] == "\n" or "\n" in text[i + 1 : start]


def _joinable(text: str, end: int, start: int) -> bool:
    gap = text[end:start]
    # One line break is a hard-wrapped line ("Pedro de\nAlbuquerque Santiago"); a blank line
    # ends the paragraph.
    return 0 < len(gap) <= 3 and gap.isspace() and "\n\n" not in gap


@dataclass(frozen=True)
class _Token:
    word: str  # without a trailing period, unless a title
    start: int
    end: int
    title: bool


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for m in _WORD.finditer(text):
        raw, start = m.group(), m.start()
        if raw.endswith(".") and raw.lower() in TITLES:
            tokens.append(_Token(raw, start, m.end(), True))
            continue
        word = raw.rstrip(".")
        tokens.append(_Token(word, start, start + len(word), word.lower() in TITLES))
    return tokens


def find_candidates(text: str, language: str) -> list[Candidate]:
    """Every capitalised name in `text`, grouped by spelling, most frequent first."""
    lang = template_language(language)
    stops, particles = STOP_WORDS[lang], PARTICLES[lang]
    say = re.compile(rf"\b(?:{SAY_VERBS[lang]})\s+(?:[oa]\s+|the\s+)?$", re.IGNORECASE)
    said = re.compile(rf"^\s+(?:{SAY_VERBS[lang]})\b", re.IGNORECASE)
    tokens = _tokens(text)
    found: dict[str, Candidate] = {}
    lower_words = {t.word for t in tokens if t.word[:1].islower()}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not (_is_capitalised(token.word) or token.title):
            i += 1
            continue
        span = [token]
        j = i + 1
        while j < len(tokens) and _joinable(text, span[-1].end, tokens[j].start):
            nxt = tokens[j]
            if _is_capitalised(nxt.word):
                span.append(nxt)
                j += 1
            elif (
                nxt.word.lower() in particles
                and j + 1 < len(tokens)
                and _is_capitalised(tokens[j + 1].word)
                and _joinable(text, nxt.end, tokens[j + 1].start)
            ):
                span += [nxt, tokens[j + 1]]
                j += 2
            else:
                break
        i = j
        candidate_span = _trim(span, stops, particles)
        if candidate_span is None or (len(candidate_span) == 1 and len(candidate_span[0].word) < 2):
            continue
        first, last = candidate_span[0], candidate_span[-1]
        end = last.end
        # "Mara's cousin": the name is Mara; the possessive belongs to the sentence.
        if end - first.start > 3 and text[end - 2 : end] in ("'s", "’s"):
            end -= 2
        surface = " ".join(text[first.start : end].split())
        at_start = first is span[0] and _at_sentence_start(text, first.start)
        if at_start and len(candidate_span) == 1 and first.word.lower() in lower_words:
            continue  # "Depois" where the chapter also has "depois": a common word
        title, _ = split_title(surface)
        candidate = found.setdefault(surface, Candidate(surface, title))
        candidate.spans.append((first.start, end))
        candidate.mid_sentence += 0 if at_start else 1
        if say.search(text[max(0, first.start - 30) : first.start]) or said.match(
            text[end : end + 30]
        ):
            candidate.dialogue += 1
        if LOCATIVE.search(text[max(0, first.start - 30) : first.start]) and not re.match(
            r"['’]s\b", text[end : end + 2]
        ):
            candidate.locative += 1
    # Weak ones (one word, once, at a sentence start) are kept: they may join a stronger
    # spelling of the same entity; alone, extraction drops them.
    kept = list(found.values())
    kept.sort(key=lambda c: (-c.count, c.surface))
    return kept


def _trim(
    span: list[_Token], stops: frozenset[str], particles: frozenset[str]
) -> list[_Token] | None:
    """Drop function words a span opened with ("Quando Capitu" → "Capitu") and particles it
    ended on; None when nothing of a name is left (a title alone, a stop word)."""
    start = 0
    while (
        start < len(span)
        and not span[start].title
        and (span[start].word.lower() in stops or _CLITIC.search(span[start].word))
    ):
        start += 1
    # A verb with its pronoun ("Approximei-me") opened the sentence: what follows the
    # particle after it is the name ("de Ezequiel" → "Ezequiel").
    while start < len(span) and span[start].word.lower() in PARTICLES_ALL:
        start += 1
    kept = span[start:]
    while kept and (kept[-1].word.lower() in particles or kept[-1].title):
        kept = kept[:-1]
    if not kept or all(t.title for t in kept):
        return None
    if len(kept) == 1 and kept[0].word.lower() in stops:
        return None
    if len(kept) >= 2 and kept[0].title and kept[1].word.lower() in stops:
        return None
    return kept
