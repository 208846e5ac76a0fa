"""Facts found by patterns, in Portuguese and English: eye and hair colour, a lame leg, ages,
birth years, occupation, kinship, deaths and departures, explicit dates and seasons with a year,
each attached to the nearest preceding name in the same paragraph (the bible's names when it has
them, else capitalised words), with the quote verbatim at `text[start:end]` and the words that
state it at `text[match_start:match_end]`.

The story bible stores them as facts (a small CPU model invents values more often than it finds
them) and the continuity audit compares them across chapters. They are deliberately narrow: a
missed fact costs recall, a wrong one a false alarm."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from services.core.bible.candidates import LOCATIVE

# Attributes the audit compares.
EYES = "eye colour"
HAIR = "hair colour"
AGE = "age"
OCCUPATION = "occupation"
CONDITION = "condition"  # value "dead" or "gone"
LAME = "lame leg"  # value left | right
RELATION = "relationship to "  # + the other's canonical name; value the kin word folded
DATE = "date"  # value ISO "YYYY-MM-DD" (day 00 / month 00 when unknown)
OWNS = "owns"  # value the kind of thing: "horse", "dog" …
INCOME = "income a year"  # value the amount, a number
NEVER_OWNED = "never owned"  # value the kind of thing the person says they never had


@dataclass(frozen=True)
class TextFact:
    entity: str | None  # canonical name, None for a date of the narrative
    attribute: str
    value: str
    quote: str
    start: int
    end: int
    # The words that state the fact ("green eyes", "morreu"), inside the quote.
    match_start: int = 0
    match_end: int = 0


def fold(value: str) -> str:
    """Lower case without accents."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Colours, folded, mapped to one value per colour (masculine/feminine/plural forms together).
_COLOURS: dict[str, str] = {
    "green": "green",
    "grey": "grey",
    "gray": "grey",
    "blue": "blue",
    "brown": "brown",
    "hazel": "hazel",
    "black": "black",
    "dark": "dark",
    "red": "red",
    "auburn": "red",
    "ginger": "red",
    "blond": "blond",
    "blonde": "blond",
    "fair": "blond",
    "yellow": "blond",
    "golden": "blond",
    "white": "white",
    "silver": "white",
    "verde": "green",
    "verdes": "green",
    "cinza": "grey",
    "cinzentos": "grey",
    "cinzentas": "grey",
    "azul": "blue",
    "azuis": "blue",
    "castanho": "brown",
    "castanhos": "brown",
    "castanha": "brown",
    "castanhas": "brown",
    "pretos": "black",
    "preto": "black",
    "pretas": "black",
    "preta": "black",
    "negros": "black",
    "negro": "black",
    "escuros": "dark",
    "escuro": "dark",
    "ruivo": "red",
    "ruivos": "red",
    "ruiva": "red",
    "louro": "blond",
    "louros": "blond",
    "loura": "blond",
    "loiro": "blond",
    "loiros": "blond",
    "loira": "blond",
    "dourado": "blond",
    "grisalho": "grey",
    "grisalhos": "grey",
    "branco": "white",
    "brancos": "white",
}
_COLOUR = r"(?P<colour>" + "|".join(sorted(_COLOURS, key=len, reverse=True)) + r")"
# Up to two words between a colour and its noun ("green, patient eyes", "bright corn yellow").
_GAP = r"(?:[\w-]+,?\s+){0,2}?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (EYES, re.compile(rf"\b{_COLOUR}(?:[\s,-]+[\w-]+)?\s+eyes\b", re.I)),
    (EYES, re.compile(rf"\beyes\s+(?:were|was|are)\s+{_GAP}{_COLOUR}\b", re.I)),
    (EYES, re.compile(rf"\bolhos\s+{_COLOUR}\b", re.I)),
    (EYES, re.compile(rf"\bolhos\s+(?:eram|s[aã]o)\s+{_GAP}{_COLOUR}\b", re.I)),
    (HAIR, re.compile(rf"\b{_COLOUR}(?:[\s,-]+[\w-]+)?\s+hair\b", re.I)),
    (HAIR, re.compile(rf"\bhair\s+(?:was|were|is)\s+(?:an?\s+)?{_GAP}{_COLOUR}\b", re.I)),
    (HAIR, re.compile(rf"\b{_COLOUR}-haired\b", re.I)),
    (HAIR, re.compile(rf"\bcabelos?\s+(?:j[aá]\s+|todo\s+)?{_COLOUR}\b", re.I)),
    (HAIR, re.compile(rf"\bcabelos?\s+(?:era|eram)\s+{_GAP}{_COLOUR}\b", re.I)),
]

_LEG = re.compile(
    r"\b(?P<side>left|right|esquerda|direita)\s+(?:leg|perna)\b|"
    r"\b(?:perna)\s+(?P<side2>esquerda|direita)\b",
    re.I,
)
_LAME = re.compile(r"\b(?:lame|limp\w*|crippled|manc\w*|coxo|coxa|aleijad\w*)\b", re.I)
_SIDES = {"left": "left", "right": "right", "esquerda": "left", "direita": "right"}

_KIN = {
    "brother": "sibling",
    "sister": "sibling",
    "cousin": "cousin",
    "uncle": "uncle",
    "aunt": "uncle",
    "father": "parent",
    "mother": "parent",
    "son": "child",
    "daughter": "child",
    "husband": "spouse",
    "wife": "spouse",
    "irmao": "sibling",
    "irma": "sibling",
    "primo": "cousin",
    "prima": "cousin",
    "tio": "uncle",
    "tia": "uncle",
    "pai": "parent",
    "mae": "parent",
    "filho": "child",
    "filha": "child",
    "marido": "spouse",
    "esposa": "spouse",
    "mulher": "spouse",
}
_KIN_WORD = (
    r"(?P<kin>brother|sister|cousin|uncle|aunt|father|mother|son|daughter|husband|wife|"
    r"irmão|irmã|primo|prima|tio|tia|pai|mãe|filho|filha|marido|esposa|mulher)"
)
_NAMEISH = r"[A-ZÀ-Ý][\wà-ÿ'-]+(?:\s+[A-ZÀ-Ý][\wà-ÿ'-]+)*"
_RELATIONS = [
    # "Firmino Batista, irmão de Dita"
    re.compile(rf"(?P<x>{_NAMEISH}),\s+{_KIN_WORD}\s+d[eoa]\s+(?P<y>{_NAMEISH})"),
    # "Elsie's brother, Jonah Pike"
    re.compile(rf"(?P<y>{_NAMEISH})['’]s\s+{_KIN_WORD},\s+(?P<x>{_NAMEISH})"),
    # "His cousin Elsie" (x: the name before)
    re.compile(rf"\b(?:[Hh]is|[Hh]er|[Ss]eu|[Ss]ua)\s+{_KIN_WORD}\s+(?P<y>{_NAMEISH})"),
]

_UNITS_EN = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS_EN = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_UNITS_PT = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "dous": 2,
    "duas": 2,
    "tres": 3,
    "três": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "onze": 11,
    "doze": 12,
    "treze": 13,
    "catorze": 14,
    "quatorze": 14,
    "quinze": 15,
    "dezesseis": 16,
    "dezessete": 17,
    "dezoito": 18,
    "dezenove": 19,
}
_TENS_PT = {
    "vinte": 20,
    "trinta": 30,
    "quarenta": 40,
    "cinquenta": 50,
    "sessenta": 60,
    "setenta": 70,
    "oitenta": 80,
    "noventa": 90,
}
_NUM_WORD = (
    r"(?:\d{1,3}|(?:"
    + "|".join(sorted({**_TENS_EN, **_TENS_PT}, key=len, reverse=True))
    + r")(?:(?:-|\s+e\s+|\s+)(?:"
    + "|".join(sorted({**_UNITS_EN, **_UNITS_PT}, key=len, reverse=True))
    + r"))?|"
    + "|".join(sorted({**_UNITS_EN, **_UNITS_PT}, key=len, reverse=True))
    + r")"
)


def parse_number(words: str) -> int | None:
    """'thirty-one', 'quarenta e cinco', '17' → the number; None if it is not one."""
    folded = fold(words).strip()
    if folded.isdigit():
        return int(folded)
    total = 0
    for part in re.split(r"[-\s]+", folded):
        if part == "e":
            continue
        if part in _TENS_EN or part in _TENS_PT:
            total += _TENS_EN.get(part, _TENS_PT.get(part, 0))
        elif part in _UNITS_EN or part in _UNITS_PT:
            total += _UNITS_EN.get(part, _UNITS_PT.get(part, 0))
        else:
            return None
    return total or None


_HEDGE = r"(?:just|not\s+yet|nearly|almost|about|barely|only|past|apenas|s[oó]|quase|mal)\s+"
# "anos" and, in older spelling, "annos" (public-domain novels keep it).
_YEARS_PT = r"an+os"
_AGE_PATTERNS = [
    re.compile(rf"\b(?P<n>{_NUM_WORD})\s+years?\s+old\b", re.I),
    re.compile(
        rf"\b(?:was|is|turned|aged|now)\s+(?:{_HEDGE})?(?P<n>{_NUM_WORD})(?![\w-])"
        r"(?!\s+\w+s\b)",
        re.I,
    ),
    # "a sensible young woman, about twenty-seven, was"
    re.compile(
        rf",\s+(?:about|nearly|almost|aged)\s+(?P<n>{_NUM_WORD})(?![\w-])(?!\s+\w+s\b)", re.I
    ),
    re.compile(
        rf"\b(?:tinha|tem|fez|completou|completara|contava|conta)\s+(?:{_HEDGE})?"
        rf"(?P<n>{_NUM_WORD})\s+{_YEARS_PT}\b",
        re.I,
    ),
    re.compile(rf"\b(?P<n>{_NUM_WORD})\s+{_YEARS_PT}\s+de\s+[ie]dade\b", re.I),
]
# "was twenty" is an age only when the sentence says nothing about what was counted.
_NOT_AGE_AFTER = re.compile(
    r"^\s*(?:of\b|(?:[\w-]+\s+)?(?:minutes?|hours?|days?|weeks?|months?|miles?|feet|foot|"
    r"steps?|pounds?|shillings?|guineas?|men|women|people|times|years\s+(?:ago|before|later)|"
    r"o'clock|percent|léguas?|leguas?|metros?|horas?|dias?|vezes|contos?|mil)\b)",
    re.I,
)
# A sentence about the narrator or someone's kin, naming no one before the age ("Quando me vi
# no alto (tinha nove annos)", "Minha mãe, que … contava trinta e cinco annos"): not about the
# person named in the paragraph before.
_NOT_THE_NAMED = re.compile(
    r"(?i:^\W*(?:(?:e|and|mas|but|então|then)\s+)?(?:(?:my|his|her|their|our|minha|meu|sua|seu|"
    r"nossa|nosso|a|o|the)\s+)?(?:mother|father|wife|husband|brother|sister|son|daughter|uncle|"
    r"aunt|grandmother|grandfather|m[aã]e|pai|esposa|marido|irm[aã]o?|filh[oa]|ti[oa]|av[oó]|"
    r"eldest|youngest|mais\s+velh[oa]|mais\s+mo[cç][oa]|ca[cç]ula)\b)|"
    r"\b(?:I|[Mm]e|[Mm]y|[Ee]u|[Mm]eu|[Mm]inha)\b",
)

_OCCUPATIONS = (
    "doctor|physician|surgeon|nurse|fisherman|baker|butcher|blacksmith|smith|tailor|teacher|"
    "schoolmistress|schoolmaster|lawyer|clerk|priest|vicar|minister|sailor|farmer|carpenter|"
    "merchant|shopkeeper|soldier|captain|seamstress|cook|innkeeper|banker|policeman|constable|"
    "postman|postmistress|miner|weaver|painter|writer|journalist|engineer|pharmacist|"
    "médico|medico|médica|medica|enfermeira|enfermeiro|pescador|padeiro|açougueiro|ferreiro|"
    "alfaiate|costureira|professora|professor|advogado|advogada|escrivão|escrivao|caixeiro|"
    "padre|marinheiro|fazendeiro|lavrador|carpinteiro|marceneiro|comerciante|soldado|"
    "cozinheira|cozinheiro|banqueiro|delegado|carteiro|mineiro|pintor|escritor|jornalista|"
    "engenheiro|farmacêutico|farmaceutico|boticário|boticario|sapateiro|pedreiro|vendeiro|"
    "clergyman|rector|curate|parson|attorney|solicitor|governess|housekeeper|coachman|steward|"
    "gardener|shepherd|miller|grocer|draper|apothecary|magistrate|architect|musician|"
    "sacristão|sacristao|vigário|vigario|cônego|conego|juiz|tabelião|tabeliao|escrevente|"
    "governanta|lavadeira|boiadeiro|vaqueiro|tropeiro|barbeiro|dentista|quitandeiro|"
    "leiteiro|maquinista|telegrafista|seminarista"
)
_OCCUPATION_PATTERNS = [
    # "had been formerly in trade": a calling without a noun.
    re.compile(
        r"\b(?:was|had\s+been)\s+(?:formerly\s+|once\s+|long\s+)?in\s+(?P<job>trade)\b", re.I
    ),
    re.compile(
        rf"\b(?:was|is|had\s+been|became|worked\s+as)\s+(?:an?\s+|the\s+)?(?:[\w'-]+\s+)?"
        rf"(?P<job>{_OCCUPATIONS})\b(?!['’]s)",
        re.I,
    ),
    re.compile(
        rf"\b(?:era|é|foi|trabalhava\s+como|virou|tornou-se)\s+(?:um\s+|uma\s+|o\s+|a\s+)?"
        rf"(?P<job>{_OCCUPATIONS})\b",
        re.I,
    ),
]

_DEATH = re.compile(
    r"\b(?:died|was\s+buried|was\s+dead|had\s+died|is\s+dead|passed\s+away|drowned|was\s+killed|"
    r"morreu|faleceu|tinha\s+morrido|havia\s+morrido|foi\s+enterrad[oa]|foi\s+sepultad[oa]|"
    r"morrera|falecera|afogou-se|morreu\s+afogad[oa])\b"
    # "her regard had died away", "the noise died down": no one died.
    r"(?!\s+(?:away|down|out|off)\b)",
    re.I,
)
# "I should have died", "quase morreu": a death that did not happen.
_NOT_A_DEATH_BEFORE = re.compile(
    r"\b(?:should|would|could|might|must|almost|nearly|quase|por\s+pouco\s+n[aã]o)\s+(?:have\s+)?$",
    re.I,
)
_DEPARTURE = re.compile(
    r"\b(?:never\s+to\s+return|left\s+for\s+good|left\s+\w+\s+for\s+good|never\s+came\s+back|"
    r"would\s+never\s+come\s+back|n[aã]o\s+voltaria\s+(?:nunca\s+)?mais|"
    r"partiu\s+para\s+sempre|foi\s+embora\s+para\s+sempre|nunca\s+mais\s+voltou|"
    # "set off for the Continent, and was not expected at Netherfield again before the summer"
    r"(?:was|were)\s+not\s+expected\s+(?:[\w,]+\s+){0,3}?(?:back|again)|"
    r"n[aã]o\s+(?:era|eram)\s+esperad[oa]s?\s+de\s+volta)\b",
    re.I,
)

# "her mother died": the death is not the named person's.
_DIES_NAMED_AFTER = re.compile(r"(?:-lhe)?\s+(?:o|a|seu|sua)\s+[\wà-ÿ]+,?\s+")
_KIN_BEFORE = re.compile(
    r"\b(?:mother|father|wife|husband|brother|sister|son|daughter|uncle|aunt|grandmother|"
    r"grandfather|m[aã]e|pai|esposa|marido|irm[aã]o?|filh[oa]|ti[oa]|av[oó]|sogr[oa])\W+"
    r"(?:\w+\W+){0,2}$",
    re.I,
)

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "janeiro": 1,
    "fevereiro": 2,
    "marco": 3,
    "março": 3,
    "abril": 4,
    "maio": 5,
    "junho": 6,
    "julho": 7,
    "agosto": 8,
    "setembro": 9,
    "outubro": 10,
    "novembro": 11,
    "dezembro": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_DATE_PATTERNS = [
    # "2nd of May", "the 29th of April", "10 de abril", "5 de abril de 1952"
    re.compile(
        rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th|º)?\s+(?:of|de)\s+{_MONTH}"
        r"(?:,?\s+(?:of\s+|de\s+)?(?P<year>1[5-9]\d\d|20\d\d))?\b",
        re.I,
    ),
    # "May 2nd", "April 29, 1921"
    re.compile(
        rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,\s+(?P<year>1[5-9]\d\d|20\d\d))?\b",
    ),
    # "March 1952", "março de 1952", "in October"
    re.compile(
        rf"\b(?:in\s+|em\s+)?{_MONTH}(?:\s+(?:of\s+|de\s+)?(?P<year>1[5-9]\d\d|20\d\d))\b", re.I
    ),
]
_SEASONS = {
    "spring": 1,
    "summer": 2,
    "autumn": 3,
    "fall": 3,
    "winter": 4,
    "primavera": 1,
    "verao": 2,
    "verão": 2,
    "outono": 3,
    "inverno": 4,
}
_SEASON_YEAR = re.compile(
    r"\b(?P<season>spring|summer|autumn|winter|primavera|ver[aã]o|outono|inverno)\s+"
    r"(?:of\s+|de\s+)(?P<year>1[5-9]\d\d|20\d\d)\b",
    re.I,
)
_BORN = re.compile(
    r"\b(?:born|nascid[oa]|nasceu)\b[^.!?\n]{0,40}?\b(?P<year>1[5-9]\d\d|20\d\d)\b", re.I
)
BIRTH = "birth year"

_NAME = re.compile(r"\b[A-ZÀ-Ý][\wà-ÿ'-]+(?:\s+[A-ZÀ-Ý][\wà-ÿ'-]+)*")
_NOT_NAMES = {
    fold(w)
    for w in [
        "The",
        "A",
        "An",
        "He",
        "She",
        "It",
        "They",
        "We",
        "I",
        "You",
        "His",
        "Her",
        "Their",
        "But",
        "And",
        "Then",
        "When",
        "In",
        "On",
        "At",
        "From",
        "Of",
        "For",
        "With",
        "Mr",
        "Mrs",
        "Miss",
        "Dr",
        "O",
        "A",
        "Os",
        "As",
        "Ele",
        "Ela",
        "Eles",
        "Elas",
        "Um",
        "Uma",
        "No",
        "Na",
        "Nos",
        "Nas",
        "Do",
        "Da",
        "De",
        "E",
        "Mas",
        "Quando",
        "Em",
        "Depois",
        "Antes",
        "Seu",
        "Sua",
        "Dona",
        "Dom",
        "Foi",
        "Era",
        "Não",
        "Sim",
        "Se",
        "Que",
        "Por",
        "Para",
        "Com",
        "Isso",
        "Aquilo",
        "Este",
        "Esta",
        "Esse",
        "Essa",
        "There",
        "This",
        "That",
        "What",
        "Where",
        "Who",
        "Why",
        "How",
        "Yes",
        "No",
        "Not",
        "Now",
        "God",
        "Deus",
    ]
}
_MONTH_KEYS = {fold(m) for m in _MONTHS} | {fold(s) for s in _SEASONS}


@dataclass(frozen=True)
class Names:
    """The names to attach facts to: every spelling → the canonical name. `not_people` holds
    the canonical names known to be places, objects or groups: they own no eyes, age or death
    ("a feira de São Bento ... Morreu ali mesmo" is about the man named before the town)."""

    spellings: dict[str, str]
    not_people: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, entities: Iterable[tuple[str, Sequence[str]]], not_people: Iterable[str] = ()
    ) -> Names:
        spellings: dict[str, str] = {}
        for name, aliases in entities:
            for spelling in (name, *aliases):
                if spelling.strip():
                    spellings.setdefault(spelling.strip(), name)
        return cls(spellings, frozenset(not_people))

    @cached_property
    def pattern(self) -> tuple[re.Pattern[str], dict[str, str]]:
        """One regex for every spelling (longest first; a name may be wrapped over two lines,
        "Pedro de\nAlbuquerque Santiago") and the canonical name of each spelling with its
        spaces normalised: built once per Names, not per chapter."""
        canonical = {" ".join(k.split()): v for k, v in self.spellings.items()}
        ordered = sorted(canonical, key=len, reverse=True)
        alternatives = "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in ordered)
        return re.compile(rf"\b(?:{alternatives})\b"), canonical

    def over(self, fallback: Names) -> Names:
        """These names, and the fallback's for the spellings these do not hold."""
        return Names(
            {**fallback.spellings, **self.spellings}, self.not_people | fallback.not_people
        )


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘«—–-")
    return not before or before[-1] in ".!?…:\n"


def names_from_texts(texts: Iterable[str]) -> Names:
    """Names for a book whose bible has none yet: capitalised words, a one-word name joined to
    the one longer name that begins or ends with it ("Mara" → "Mara Quill")."""
    found: dict[str, int] = {}
    for text in texts:
        for start, _, name in name_spans(text, Names({})):
            found.setdefault(name, 0)
            if not _at_sentence_start(text, start):
                found[name] += 1
    # A word seen only at the start of sentences is no name ("Tinha", "Disse"), unless it
    # is part of a longer name ("Mara" of "Mara Quill").
    longer = [n for n in found if len(n.split()) > 1]
    spellings: dict[str, str] = {n: n for n in longer}
    for name, count in found.items():
        if len(name.split()) > 1:
            continue
        owners = [n for n in longer if name in (n.split()[0], n.split()[-1])]
        if len(owners) == 1:
            spellings[name] = owners[0]
        elif count > 0:
            spellings[name] = name
    return Names(spellings)


def place_names(texts: Iterable[str], names: Names) -> frozenset[str]:
    """The names the book puts after "in", "at", "em", "na" … at least a third of the times it
    uses them: places ("vicar of Saltmere", "in Saltmere"), whatever a chapter's bible entry
    first guessed. They own no ages, eyes or deaths."""
    seen: dict[str, list[int]] = {}
    for text in texts:
        for start, end, name in name_spans(text, names):
            counts = seen.setdefault(name, [0, 0])
            counts[0] += 1
            if LOCATIVE.search(text[max(0, start - 30) : start]) and not re.match(
                r"['’]s\b", text[end : end + 2]
            ):
                counts[1] += 1
    return frozenset(n for n, (total, where) in seen.items() if where and 3 * where >= total)


# Ranks and callings a book names one person by: "the captain" is Captain Ambrose Hale when he is
# the only captain with a name ("o padre" the only padre).
_ROLES = {
    "captain": ("the captain",),
    "colonel": ("the colonel",),
    "major": ("the major", "o major"),
    "doctor": ("the doctor",),
    "dr.": ("the doctor", "o doutor"),
    "reverend": ("the reverend", "the vicar"),
    "padre": ("o padre",),
    "capitão": ("o capitão",),
    "coronel": ("o coronel",),
    "doutor": ("o doutor",),
    "professor": ("the professor", "o professor"),
}


def joined_names(names: Names) -> Names:
    """`names` with a name whose words begin or end exactly one longer name joined to it ("Sir
    William" → "Sir William Lucas", "Jane" → "Jane Bennet"); one shared by several ("Bennet")
    stays its own."""
    canonical = set(names.spellings.values())
    words = {n: n.split() for n in canonical}
    target: dict[str, str] = {}
    for name, parts in words.items():
        longer = [
            other
            for other, o_parts in words.items()
            if len(o_parts) > len(parts)
            and (o_parts[: len(parts)] == parts or o_parts[-len(parts) :] == parts)
        ]
        # A place joins a place, a person a person ("São Bento" is not "São Bento Lopes").
        if len(longer) == 1 and (longer[0] in names.not_people) == (name in names.not_people):
            target[name] = longer[0]
    spellings = {s: target.get(n, n) for s, n in names.spellings.items()}
    places = names.not_people | {target[n] for n in names.not_people if n in target}
    return Names(spellings, frozenset(places))


def role_names(names: Names) -> Names:
    """`names` with "the captain" / "o padre" joined to the one named person of that rank."""
    holders: dict[str, set[str]] = {}
    for spelling, canonical in names.spellings.items():
        first = spelling.split()[0].casefold() if spelling.split() else ""
        if first in _ROLES and len(spelling.split()) > 1:
            holders.setdefault(first, set()).add(canonical)
    spellings = dict(names.spellings)
    for role, people in holders.items():
        if len(people) != 1:
            continue
        (person,) = people
        for phrase in _ROLES[role]:
            for form in (phrase, phrase[:1].upper() + phrase[1:]):
                spellings.setdefault(form, person)
    return Names(spellings, names.not_people)


def _paragraph_bounds(text: str, position: int) -> tuple[int, int]:
    start = text.rfind("\n\n", 0, position)
    end = text.find("\n\n", position)
    return (0 if start < 0 else start + 2), (len(text) if end < 0 else end)


# "Mr. Hallam", "D. Gloria": the full stop of a title ends no sentence.
_NOT_AFTER_TITLE = r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bSr)(?<!\bSra)(?<!\bD)"
_SENTENCE_END = re.compile(rf"{_NOT_AFTER_TITLE}[.!?…](?:[\"'”’»)]*)\s+")


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding text[start:end] (to the paragraph's edges at most)."""
    p_start, p_end = _paragraph_bounds(text, start)
    left = p_start
    for match in _SENTENCE_END.finditer(text[p_start:start]):
        left = p_start + match.end()
    # From the span's last character: a span that ends with its full stop ends its sentence.
    tail = max(start, end - 1)
    right_match = re.search(rf"{_NOT_AFTER_TITLE}[.!?…][\"'”’»)]*(?=\s|$)", text[tail:p_end])
    right = tail + right_match.end() if right_match else p_end
    return left, right


def name_spans(text: str, names: Names) -> list[tuple[int, int, str]]:
    """Where names occur: (start, end, canonical name), left to right, longest spelling wins."""
    spans: list[tuple[int, int, str]] = []
    if names.spellings:
        pattern, canonical = names.pattern
        taken: list[tuple[int, int]] = []
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            taken.append((match.start(), match.end()))
            spans.append((match.start(), match.end(), canonical[" ".join(match.group(0).split())]))
        return sorted(spans)
    for match in _NAME.finditer(text):
        words = [w for w in match.group(0).split() if fold(w) not in _NOT_NAMES]
        if not words or all(fold(w) in _MONTH_KEYS for w in words):
            continue
        begin = match.start() + match.group(0).index(words[0])
        name = re.sub(r"['’]s$", "", " ".join(words))  # "Sir William's house": Sir William
        if name:
            spans.append((begin, begin + len(name), name))
    return spans


_PLACE_BEFORE = re.compile(
    r"\b(?:at|in|to|for|from|into|near|towards?|beyond|past|across|off|around|over|em|no|na|nos|nas|"
    r"para|pra|ao|aos|à|às|al[eé]m\s+d[oa]s?)\s+(?:the\s+|[oa]s?\s+)?$",
    re.I,
)
# "os olhos azuis da mãe", "the green eyes of her mother": someone else's, not the name's.
_OF_KIN_AFTER = re.compile(
    r"^\s+(?:d[aoe]s?|of)\s+(?:sua\s+|seu\s+|her\s+|his\s+|their\s+|the\s+)?"
    r"(?:m[aã]e|pai|mother|father|irm[aã]o?|sister|brother|filh[oa]|son|daughter|av[oó]|"
    r"marido|esposa|husband|wife|ti[oa]|aunt|uncle)\b",
    re.I,
)


_KIN_NOUNS = (
    r"(?:brother|sister|cousin|uncle|aunt|father|mother|son|daughter|husband|wife|friend|"
    r"irm[aã]o?|prim[oa]|ti[oa]|pai|m[aã]e|filh[oa]|marido|esposa|mulher|amig[oa])"
)
_NAME_KIN = re.compile(rf"(?:['’]s)?\s+{_KIN_NOUNS}\b", re.I)
_KIN_OF_NAME = re.compile(rf"\b{_KIN_NOUNS}\s+d[aoe]s?\s+$", re.I)


def subject_before(spans: Sequence[tuple[int, int, str]], text: str, position: int) -> str | None:
    """The nearest name before `position` in its paragraph that opens a clause ("Jonah took
    the Kittiwake out ... beyond the Skerries. His cousin" → Jonah): what "his"/"her" most
    often points back to."""
    p_start, _ = _paragraph_bounds(text, position)
    for start, _end, name in reversed(spans):
        if start < p_start or start >= position:
            continue
        before = text[p_start:start].rstrip(" ")
        if not before or before[-1] in '.,;:!?—"“\n' or re.search(r"\b(?:and|e)$", before):
            return name
    return None


def _who(
    spans: Sequence[tuple[int, int, str]], text: str, start: int, end: int
) -> list[tuple[int, int, str]]:
    """The names in text[start:end] that may be whom a fact is about. A name after a
    preposition is most often a place ("the lighthouse at Carrow Point"); one that names
    someone's kin ("Mara's cousin", "prima de Mara") points to another person."""
    return [
        s
        for s in spans
        if start <= s[0]
        and s[1] <= end
        and not _PLACE_BEFORE.search(text[start : s[0]])
        and not _KIN_OF_NAME.search(text[max(start, s[0] - 20) : s[0]])
        and not _NAME_KIN.match(text[s[1] : s[1] + 30])
    ]


def owner_of(spans: Sequence[tuple[int, int, str]], text: str, position: int) -> str | None:
    """The nearest name before `position` in its paragraph; with none, the first after it in
    the same sentence; with none either, the last of the paragraph before, when that one is
    narration: a paragraph that names nobody goes on about whom the one before named ("o padre
    Anselmo foi embora." / "Era português … Disse que não voltaria nunca mais")."""
    p_start, _ = _paragraph_bounds(text, position)
    before = _who(spans, text, p_start, position)
    if before:
        return before[-1][2]
    _, s_end = sentence_bounds(text, position, position)
    after = _who(spans, text, position, s_end)
    if after:
        return after[0][2]
    return carried_over(spans, text, position)


def carried_over(spans: Sequence[tuple[int, int, str]], text: str, position: int) -> str | None:
    """For a paragraph that names nobody: the last person the narrated paragraph before it
    names, whom it goes on about ("Tio Cosme … sorria." / "Era gordo e pesado")."""
    p_start, _ = _paragraph_bounds(text, position)
    # Speech on either side: who speaks, or of whom, is not the paragraph's subject.
    if text[p_start : p_start + 1] in _SPEECH_OPENERS:
        return None
    return _last_narrated_before(spans, text, p_start)


def _last_narrated_before(
    spans: Sequence[tuple[int, int, str]], text: str, p_start: int
) -> str | None:
    """The last person named in the paragraph before the one starting at `p_start`, when
    that paragraph is narration."""
    if p_start < 2:
        return None
    previous_start, _ = _paragraph_bounds(text, p_start - 2)
    if text[previous_start : previous_start + 1] in _SPEECH_OPENERS:
        return None
    previous = _who(spans, text, previous_start, p_start - 2)
    return previous[-1][2] if previous else None


_SPEECH_OPENERS = ('"', "“", "—", "–", "-", "«", "'", "‘")

# What a thing is, and what more general words also name it: a mare is a horse and an animal,
# so "I never owned a horse" or "nunca tive um bicho" denies having her.
_THINGS: dict[str, str] = {
    "horse": "horse|horses|mare|stallion|pony|gelding|colt|filly|cob|nag|"
    "cavalo|cavalos|égua|egua|potro|potra|pônei|ponei|cavalinho",
    "dog": "dog|dogs|hound|puppy|terrier|spaniel|cachorro|cachorra|cão|cao|cadela|vira-lata",
    "cat": "cat|cats|kitten|gato|gata|gatinho|gatinha",
    "bird": "parrot|canary|papagaio|canário|canario|passarinho|periquito",
    "car": "car|motor-car|automobile|carro|automóvel|automovel",
}
_KIND_OF_WORD = {fold(w): kind for kind, words in _THINGS.items() for w in words.split("|")}
_MORE_GENERAL = {
    "animal": ("horse", "dog", "cat", "bird"),
    "horse": ("horse",),
    "dog": ("dog",),
    "cat": ("cat",),
    "bird": ("bird",),
    "car": ("car",),
}
_GENERAL_WORDS = (
    r"(?P<general>animal|animals|pet|pets|beast|creature|bicho|bichos|animal\s+de\s+estima[cç][aã]o|"
    + "|".join(_THINGS.values())
    + ")"
)
_THING_WORDS = "|".join(_THINGS.values())
_OWNING = [
    # "He kept a grey mare called Bess", "tinha um cavalo baio"
    re.compile(
        r"\b(?:kept|keeps|had|has|owned|owns|bought|tinha|tem|possu[ií]a|criava|comprou)\s+"
        rf"(?:a|an|his|her|their|um|uma|o|a|seu|sua)\s+(?:[\w-]+\s+){{0,2}}?(?P<thing>{_THING_WORDS})\b",
        re.I,
    ),
    # "Pipoca, o cachorro dela"; "o cavalo dele"
    re.compile(rf"\b[oa]\s+(?P<thing>{_THING_WORDS})\s+(?:dela|dele)\b", re.I),
]
_NEVER_OWNING = re.compile(
    r"\b(?:never|not\s+ever|nunca|jamais)\s+(?:\w+\s+)?"
    r"(?:owned|had|kept|possessed|tive|teve|tivemos|possu[ií]|criei|criou)\s+"
    rf"(?:a|an|any|one|um|uma|nenhum|nenhuma)\s+(?:[\w-]+\s+)?{_GENERAL_WORDS}\b",
    re.I,
)


_NOT_OWNING_BEFORE = re.compile(r"\b(?:never|not|n't|no|nunca|jamais|n[aã]o)\s+(?:\w+\s+)?$", re.I)


# "an estate of two thousand a year", "dez contos por ano"
_INCOME = re.compile(
    rf"\b(?P<n>{_NUM_WORD})\s+(?P<scale>thousand|hundred|mil|contos?)\s+"
    r"(?:pounds\s+|libras\s+|(?:de\s+)?r[eé]is\s+)?(?:a|per|por|ao)\s+(?:year|annum|ano)\b",
    re.I,
)
_SCALE = {"thousand": 1000, "hundred": 100, "mil": 1000, "conto": 1_000_000, "contos": 1_000_000}


def in_speech(text: str, position: int, since: str = "\n") -> bool:
    """Inside a character's speech: from the last `since` (a line, or "\n\n" for the
    paragraph) the text opens with a dash or leaves a quote open."""
    found = text.rfind(since, 0, position)
    before = text[found + len(since) if found >= 0 else 0 : position]
    return (
        before.lstrip().startswith(("—", "-", "–"))
        or before.count('"') % 2 == 1
        or (before.count("“") > before.count("”"))
    )


def thing_kind(word: str) -> str | None:
    """The kind of thing a word names ("mare" → "horse"), or for a general word ("bicho",
    "pet") "animal"."""
    folded = fold(word)
    if folded in _KIND_OF_WORD:
        return _KIND_OF_WORD[folded]
    return "animal" if re.fullmatch(_GENERAL_WORDS, folded, re.I) else None


def denies(general: str, kind: str) -> bool:
    """Whether never having a `general` ("animal") denies having a thing of `kind` ("horse")."""
    return kind in _MORE_GENERAL.get(general, ())


_FIRST_PERSON_ONLY = re.compile(r"\b(?:I|[Ee]u)\b")


def speaker(spans: Sequence[tuple[int, int, str]], text: str, position: int) -> str | None:
    """Who speaks the words at `position`: the name the paragraph names outside the quotes
    ("I never …," the captain added), or, for a line of speech that names no one, the last
    person the narrated paragraph before it names (pt dialogue: "— Mãe, posso ter um?")."""
    p_start, p_end = _paragraph_bounds(text, position)
    paragraph = text[p_start:p_end]
    outside = re.sub(r"\"[^\"]*\"|“[^”]*”|«[^»]*»", lambda m: " " * len(m.group(0)), paragraph)
    if paragraph[:1] in ("—", "–", "-"):
        # "— Quem fia, perde — repetia Firmino.": the narration is what follows a second dash.
        cut = re.search(r"\s[—–]\s", paragraph[1:])
        outside = (
            " " * len(paragraph)
            if cut is None
            else " " * (cut.end() + 1) + paragraph[cut.end() + 1 :]
        )
    named = [s for s in spans if p_start <= s[0] < p_end and outside[s[0] - p_start] != " "]
    if named:
        return named[0][2]
    return _last_narrated_before(spans, text, p_start)


def quote_around(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The clause around a match, verbatim (the sentence, trimmed to 160 characters)."""
    s_start, s_end = sentence_bounds(text, start, end)
    while s_end > s_start and text[s_end - 1].isspace():
        s_end -= 1
    if s_end - s_start > 160:
        s_start = max(s_start, start - 60)
        s_end = min(s_end, end + 60)
        while s_start > 0 and s_start < start and not text[s_start - 1].isspace():
            s_start += 1
        while s_end < len(text) and s_end > end and not text[s_end].isspace():
            s_end -= 1
    return text[s_start:s_end], s_start, s_end


def _month_day(month: str) -> int:
    return _MONTHS[fold(month)] if fold(month) in _MONTHS else _MONTHS[month.lower()]


def extract_facts(text: str, names: Names) -> list[TextFact]:
    """Every fact the patterns find in one chapter's text, in text order."""
    spans = name_spans(text, names)
    # Who a fact is about: people only (kin relations still name whoever the text names).
    people = [s for s in spans if s[2] not in names.not_people]
    facts: list[TextFact] = []
    seen: set[tuple[str, int, int]] = set()

    def add(entity: str | None, attribute: str, value: str, start: int, end: int) -> None:
        # Two patterns reading the same words ("contava trinta anos de idade") give one fact.
        if any(a == attribute and s < end and start < e for a, s, e in seen):
            return
        seen.add((attribute, start, end))
        quote, q_start, q_end = quote_around(text, start, end)
        facts.append(TextFact(entity, attribute, value, quote, q_start, q_end, start, end))

    for attribute, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if _OF_KIN_AFTER.match(text[match.end() : match.end() + 40]):
                continue
            owner = owner_of(people, text, match.start())
            if owner is not None:
                add(owner, attribute, _COLOURS[fold(match.group("colour"))], *match.span())
    spelled = dict(names.spellings) or {n: n for _, _, n in spans}
    for pattern in _RELATIONS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            other = spelled.get(groups["y"])
            owner = (
                spelled.get(groups["x"])
                if groups.get("x")
                else subject_before(people, text, match.start())
            )
            if other is None or owner is None or owner == other:
                continue
            add(owner, RELATION + other, _KIN[fold(match.group("kin"))], *match.span())
    for match in _LEG.finditer(text):
        s_start, s_end = sentence_bounds(text, match.start(), match.end())
        if not _LAME.search(text[s_start:s_end]):
            continue
        owner = owner_of(people, text, match.start())
        side = match.group("side") or match.group("side2")
        if owner is not None:
            add(owner, LAME, _SIDES[fold(side)], *match.span())
    for pattern in _AGE_PATTERNS:
        for match in pattern.finditer(text):
            if _NOT_AGE_AFTER.match(text[match.end() :]):
                continue
            number = parse_number(match.group("n"))
            s_start, _ = sentence_bounds(text, match.start(), match.end())
            if not any(s_start <= s[0] < match.start() for s in people) and _NOT_THE_NAMED.search(
                text[s_start : match.start()]
            ):
                continue
            owner = owner_of(people, text, match.start())
            if number is not None and 0 < number < 120 and owner is not None:
                add(owner, AGE, str(number), *match.span())
    for pattern in _OCCUPATION_PATTERNS:
        for match in pattern.finditer(text):
            owner = owner_of(people, text, match.start())
            if owner is not None:
                add(owner, OCCUPATION, fold(match.group("job")), *match.span())
    # "Bingley's regard had died away": a possessive name is not who dies or leaves.
    subjects = [s for s in people if text[s[1] : s[1] + 2] not in ("'s", "’s")]
    for pattern, value in ((_DEATH, "dead"), (_DEPARTURE, "gone")):
        for match in pattern.finditer(text):
            if _NOT_A_DEATH_BEFORE.search(text[max(0, match.start() - 30) : match.start()]):
                continue
            # "Quando lhe morreu o marido, Pedro de Albuquerque": the one named after dies.
            inverted = _DIES_NAMED_AFTER.match(text, match.end())
            named = inverted and next((n for a, _, n in subjects if a == inverted.end()), None)
            if named:
                add(named, CONDITION, value, *match.span())
                continue
            owner = owner_of(subjects, text, match.start())
            if owner is not None and not _KIN_BEFORE.search(
                text[max(0, match.start() - 40) : match.start()]
            ):
                add(owner, CONDITION, value, *match.span())
    for pattern in _OWNING:
        for match in pattern.finditer(text):
            if _NOT_OWNING_BEFORE.search(text[max(0, match.start() - 20) : match.start()]):
                continue
            kind = thing_kind(match.group("thing"))
            # "Lúcia foi com Pipoca, o cachorro dela": the name in apposition is the dog.
            owners = [s for s in people if not re.fullmatch(r",\s*", text[s[1] : match.start()])]
            owner = owner_of(owners, text, match.start())
            if kind is not None and owner is not None:
                add(owner, OWNS, kind, *match.span())
    for match in _INCOME.finditer(text):
        # What a character hopes for ("a colonel with five or six thousand a year") is no one's.
        if in_speech(text, match.start(), "\n\n") or re.search(
            r"\b(?:or|ou)\s+$", text[max(0, match.start() - 5) : match.start()]
        ):
            continue
        number = parse_number(match.group("n"))
        owner = owner_of(people, text, match.start())
        if number is not None and owner is not None:
            amount = number * _SCALE[fold(match.group("scale"))]
            add(owner, INCOME, str(amount), *match.span())
    for match in _NEVER_OWNING.finditer(text):
        general = thing_kind(match.group("general"))
        s_start, _ = sentence_bounds(text, match.start(), match.end())
        if _FIRST_PERSON_ONLY.search(text[s_start : match.start()]):
            owner = speaker(people, text, match.start())
        else:
            owner = owner_of(people, text, match.start())
        if general is not None and owner is not None:
            add(owner, NEVER_OWNED, general, *match.span())
    for match in _BORN.finditer(text):
        owner = owner_of(people, text, match.start())
        if owner is not None:
            add(owner, BIRTH, match.group("year"), *match.span())
    date_spans: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in date_spans):
                continue  # "10 de abril de 1952" is one date, not also "abril de 1952"
            date_spans.append(match.span())
            groups = match.groupdict()
            year = groups.get("year")
            day = groups.get("day")
            month = _month_day(match.group("month"))
            value = f"{year or '0000'}-{month:02d}-{int(day) if day else 0:02d}"
            add(None, DATE, value, *match.span())
    for match in _SEASON_YEAR.finditer(text):
        season = _SEASONS[fold(match.group("season"))]
        add(None, DATE, f"{match.group('year')}-S{season}", *match.span())
    facts.sort(key=lambda f: f.start)
    return facts
