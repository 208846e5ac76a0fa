"""Facts told in free prose, found by cue words in Portuguese and English: how someone looks
("olhos claros e grandes", "was good-looking"), whose kin they are ("a filha do Tartaruga",
"his brother-in-law"), where they live or go ("moravam em Andarahy", "returned to Longbourn"),
their calling, condition, belongings, the events of their life and what they find out.

The typed patterns of `text_facts` read a few facts exactly (an eye colour, an age) for the
continuity audit to compare; most of what a bible should hold is told in no fixed form. Here a
sentence that names a person (or goes on about the one just named) and holds a cue of an
attribute gives a fact: the value is the clause around the cue in the text's own words, the
quote its sentence — verbatim by construction. The cues demand context (an adjective next to
"olhos", a capitalised place after "lived at", "sua mulher" rather than "uma mulher") because a
bible the author must weed is worse than a short one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.core.bible.text_facts import (
    Names,
    fold,
    in_speech,
    name_spans,
    owner_of,
    quote_around,
    sentence_bounds,
)

# A description that names nobody is of the person named last, at most this far before (a
# few short lines of dialogue with her): further than this, the owner is a guess.
CARRY_CHARS = 1200
MAX_VALUE_WORDS = 12
NAME_AFTER_CHARS = 25


@dataclass(frozen=True)
class CueFact:
    entity: str  # canonical name
    attribute: str  # the bible's vocabulary: appearance, family, location …
    value: str  # the clause around the cue, whitespace normalised
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class _Cue:
    attribute: str
    pattern: re.Pattern[str]  # on the folded text
    # Must match the clause's text just before the cue (folded), when given.
    before: re.Pattern[str] | None = None
    # Must match somewhere in the clause (folded), when given.
    within: re.Pattern[str] | None = None
    # The match must be followed by a capitalised word (a place) in the original text.
    capital_after: bool = False
    # A name must follow the cue closely ("The officer was the very Mr. Denny", "o padre
    # Cabral"), and the fact is that person's.
    name_after: bool = False


def _words(alternatives: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


_LOOKS_ADJ = (
    r"tall|handsome|pretty|beautiful|ugly|fat|stout|plump|thin|slender|slim|lean|"
    r"heavy-looking|good-looking|well-looking|ill-looking|gentlemanlike|graceful|elegant|"
    r"freckled|bald|bearded|grey-haired|white-haired|dark-haired|fair-haired|lovely|comely|"
    r"homely|sunburnt|hunchbacked|scarred|"
    r"alt[oa]|bonit[oa]|formos[oa]|lind[oa]|fei[oa]|gord[oa]|gorduch[oa]|magr[oa]|"
    r"magricel+[oa]|esbelt[oa]|franzin[oa]|pal+id[oa]|moren[oa]|lour[oa]|ruiv[oa]|calv[oa]|"
    r"barbud[oa]|gracios[oa]|elegante|robust[oa]|corpulent[oa]|espadaud[oa]|forte"
)
# An adjective describes a person after a copula, an article or an intensifier, or in a list
# ("alta, forte e cheia"): not "em voz alta", "no alto", "a handsome fortune" (the noun after
# is checked below).
_DESCRIBING = re.compile(
    r"(?:\b(?:was|were|is|are|looked|looks|seemed|grew|grown|very|rather|so|too|quite|a|an|and|"
    r"era|eram|e|estava|parecia|ficou|ficara|muito|mui|bem|tao|um|uma|mais|rapaz|moca|"
    r"menina|menino|homem|mulher|senhora|sujeito|creatura|criatura|young\s+man|young\s+woman|"
    r"man|woman|girl|boy|lady|gentleman|fellow)\s+|,\s*)$"
)
_NOT_A_PERSON_AFTER = re.compile(
    r"^\s+(?:fortune|income|estate|house|sum|dinner|room|tree|trees|wall|voz|casa|noite|"
    r"mar|hora|horas|preco|quantia|somma|soma|idea|ideia|share|deal)\b"
)
_BODY = (
    r"eyes|hair|nose|mouth|lips|chin|beard|moustache|whiskers|complexion|countenance|features|"
    r"figure|skin|teeth|mien|forehead|"
    r"olhos|cabel+os|cabel+eira|nariz|boc+a|labios|queixo|barba|bigode|pel+e|cara|rosto|"
    r"feicoes|figura|dentes|testa|trancas|physionomia|fisionomia|sestro|hombro|ombro"
)
_BODY_ADJ = re.compile(
    r"(?<!\w)(?:fine|dark|fair|light|black|white|red|blue|green|grey|gray|brown|golden|large|"
    r"small|big|little|long|short|thick|straight|curved|crooked|broad|narrow|round|sharp|"
    r"pale|rosy|bright|pleasing|pleasant|noble|handsome|pretty|beautiful|plain|curly|"
    r"clar[oa]s?|escur[oa]s?|grandes?|pequen[oa]s?|gross[oa]s?|fin[oa]s?|comprid[oa]s?|"
    r"curt[oa]s?|rect[oa]|ret[oa]|larg[oa]|curv[oa]|delgad[oa]|alv[oa]|lis[oa]s?|pret[oa]s?|"
    r"negr[oa]s?|castanh[oa]s?|azu(?:l|is)|verdes?|lour[oa]s?|branc[oa]s?|grisalh[oa]s?|"
    r"ruiv[oa]s?|rapad[oa]|bel+[oa]s?|lind[oa]s?|viv[oa]s?|direito|esquerdo)(?!\w)"
)
_DRESSING = r"wore|wearing|dressed|clad|vestia|vestiu|trajava|usava"
_CLOTHES = re.compile(
    r"(?<!\w)(?:coat|gown|dress|bonnet|hat|cap|boots|shawl|gloves|cloak|uniform|black|white|"
    r"blue|red|green|grey|brown|mourning|luto|vestido|chale|chapeu|casaca|sobrecasaca|calcas|"
    r"botas|sapatos|saia|blusa|fraque|moderna|pret[oa]|branc[oa]|escur[oa]|cabel+eira)(?!\w)"
)
_DRESS = (
    r"in\s+mourning|vestid[oa]\s+de|de\s+luto|(?:um|uma|o|a|seu|sua|eterno)\s+(?:\w+\s+)?vestido"
)

_KIN = (
    r"brothers?|sisters?|cousins?|uncle|aunt|niece|nephew|father|mother|sons?|daughters?|"
    r"husband|wife|widow|widower|grandfather|grandmother|grandson|granddaughter|godfather|"
    r"godmother|godson|goddaughter|(?:brother|sister|father|mother|son|daughter)-in-law|"
    r"children|heir|heiress|guardian|patron|patroness|fiance|fiancee|"
    r"irmaos?|irmas?|manos?|manas?|prim[oa]s?|ti[oa]s?|sobrinh[oa]s?|pai|pae|mae|maes|"
    r"filh[oa]s?|filhinh[oa]s?|marido|esposa|viuv[oa]|av[oô]|net[oa]s?|padrinho|madrinha|"
    r"afilhad[oa]|cunhad[oa]s?|genro|nora|sogr[oa]|noiv[oa]|compadre|comadre|ag+regad[oa]"
)
# Kinship is a tie between two people: a kin word counts when a name stands next to it
# ("his daughter Maria", "Elizabeth's intimate friend", "a filha do Tartaruga", "Escobar e a
# mulher", "engaged to Mr. Collins"), or after "had" ("Escobar tinha uma irmã"); "said her
# mother" or "her sister" alone tells the bible nothing new.
_KIN_WORD = re.compile(
    rf"(?<![\w-])(?:{_KIN}|friend|amig[oa]|mulher|engaged\s+to|married(?:\s+to)?|"
    rf"casou(?:-se)?\s+com|casad[oa]\s+com|noiv[oa]\s+de)(?![\w-])"
)
_SIBLING_ADDRESS = frozenset({"mano", "mana"})
_ADJ = r"(?:[\w-]+\s+)?"
_DET = r"(?:his|her|their|your|the|a|an|sua|seu|suas|seus|teu|tua|o|a|os|as|um|uma)\s+"
_NAME_THEN_KIN = re.compile(
    rf"^(?:['’]s\s+{_ADJ}|,?\s+{_DET}{_ADJ}|\s+(?:e|and)\s+{_DET}{_ADJ}|\s+)$", re.I
)
_KIN_THEN_NAME = re.compile(r"^(?:,?\s+(?:(?:of|to|d[eoa]s?|de\s+uma?)\s+)?(?:the\s+)?)$", re.I)
_HAD_KIN = re.compile(
    rf"\b(?:had|has|have|having|with|tinha|tem|teve|tinham|com)\s+(?:(?:a|an|one|two|three|"
    rf"four|five|six|um|uma|dois|dous|duas|tres|trez|quatro|cinco|seis|\d+)\s+)?{_ADJ}$",
    re.I,
)
_SAID = re.compile(
    r"\b(?:said|replied|cried|answered|observed|added|continued|returned|exclaimed|asked|"
    r"disse|respondeu|acudiu|perguntou|replicou|exclamou|tornou|bradou)\s+\S+\s+(?:\S+\s+)?$",
    re.I,
)
_PLACE_VERBS = (
    r"lived|lives|live|living|resided|resides|dwelt|settled|returned|went|gone|arrived|removed|"
    r"stayed|staying|situated|travelled|set\s+off|home|"
    r"morava|moravam|mora|moram|morar|morou|residia|residiam|vivia|viviam|voltou|voltaram|"
    r"voltava|chegou|chegaram|seguiu|partiu|mudou-se|mudaram-se|estava|estavam|ficou|ficaram|"
    r"foram|iam|repousa|tratal-a|tratala"
)
_LOCATION = [
    _Cue(
        "location",
        re.compile(
            rf"(?<![\w-])(?:{_PLACE_VERBS})(?:\s+[\w-]+){{0,3}}?\s+(?:at|in|to|for|from|near|"
            rf"em|para|pra|ao|aos|na|no|nas|nos|numa|num|a\s+casa\s+d[eoa])\s+(?:(?:the|o|a|os|"
            rf"as|rua|street)\s+(?:d[eoa]s?\s+)?)?(?=\S)"
        ),
        capital_after=True,
    ),
    _Cue(
        "location",
        re.compile(r"(?<![\w-])(?:casa|rua|street|house)\s+(?:d[eoa]s?\s+|at\s+|in\s+)?(?=\S)"),
        capital_after=True,
    ),
]
_OCCUPATION_WORDS = (
    r"doctor|physician|surgeon|lawyer|attorney|solicitor|clerk|priest|vicar|rector|curate|"
    r"parson|clergyman|minister|officer|lieutenant|colonel|captain|mayor|knight|baronet|"
    r"merchant|housekeeper|governess|steward|"
    r"butler|servant|apothecary|magistrate|sailor|soldier|farmer|teacher|"
    r"medico|medica|homeopatha|homeopata|advogad[oa]|padre|vigario|conego|bispo|seminarista|"
    r"senador|deputado|ministro|politico|negociante|commerciante|comerciante|empregad[oa]|"
    r"funccionario|funcionario|desembargador|militar|coronel|tenente|capitao|professor|"
    r"professora|escrivao|caixeiro|fazendeiro|lavrador|soldado|marinheiro|juiz|medicina|"
    r"archeologia|arqueologia|estudante|student"
)
_OCCUPATION = [
    # "Tio Cosme, que era advogado", "fez-se politico", "As a clergyman", "seguiu medicina".
    _Cue(
        "occupation",
        _words(_OCCUPATION_WORDS),
        before=re.compile(
            r"\b(?:was|is|were|been|became|become|as|era|e|foi|fez-se|acabou|como|seguiu|"
            r"formou-se|estudou|por|esta\s+de|estava\s+de)\s+(?:(?:a|an|the|um|uma|o)\s+)?"
            r"(?:[\w-]+\s+)?$"
        ),
    ),
    # "The officer was the very Mr. Denny", "o padre Cabral": the calling next to the name.
    _Cue(
        "occupation",
        _words(_OCCUPATION_WORDS),
        before=re.compile(r"(?:\b(?:a|an|the|um|uma|o)\s+|,\s*)$"),
        name_after=True,
    ),
]
_CONDITION = [
    _Cue(
        "condition",
        _words(
            r"ill|illness|sickness|fever|unwell|indisposed|recovered|recovering|widow|"
            r"widowed|dead|death|dying|buried|wounded|injured|tears|dejection|low\s+spirits|"
            r"pregnant|in\s+debt|debts|ruined|"
            r"doente|doenca|enferm[oa]|enfermidade|febre|convalescente|convalescenca|viuv[oa]|"
            r"viuvez|mort[oa]|morreu|morrera|morte|fal+ec\w+|enterrad[oa]|sepultad[oa]|"
            r"ferid[oa]|lagrimas|abatid[oa]|gravida|dividas|arruinad[oa]|por\s+pouco|"
            r"afog\w+|moribund[oa]|agonia"
        ),
    ),
]
_POSSESSION = [
    # Words that say owning by themselves: a legacy, an inheritance, buying.
    _Cue(
        "possession",
        _words(
            r"a\s+year|per\s+annum|inherit\w*|entail\w*|legacy|dowry|owned|owns|bought|"
            r"legado|heranca|herdou|herdeir[oa]|testamento|comprou|possuia|dote"
        ),
    ),
    # Things: someone's ("his large estate", "seus predios") or had, kept, sold ("does not
    # keep a carriage", "Vendeu a fazendola") — not "a young man of large fortune" said of
    # nobody, nor "good fortune".
    _Cue(
        "possession",
        _words(
            r"pounds|(?<!good\s)(?<!ill\s)(?<!bad\s)fortune|estate|property|carriage|house|income|"
            r"apolices?|predios|fazend(?:a|ola)|escravos|dinheiro|contos\s+de\s+reis|rendas|"
            r"propriedade|casa\s+propria"
        ),
        before=re.compile(
            r"(?:\b(?:his|her|their|its|seu|sua|seus|suas)\s+|['’]s\s+|"
            r"\b(?:has|had|have|having|keep|keeps|kept|own|sold|sell|with|tinha|tem|teve|"
            r"vendeu|guardava|possue|possui)\s+(?:(?:a|an|the|um|uma|o|a|os|as)\s+)?)"
            r"(?:[\w-]+\s+){0,2}$"
        ),
    ),
]
_EVENT = [
    _Cue(
        "event",
        _words(
            r"married|marry|marriage|wedding|engagement|danced|journey|travel\w*|tour|visit\w*|"
            r"born|christen\w*|baptis\w*|funeral|elope\w*|proposal|proposed|quarrel\w*|duel|"
            r"casou|casar|casamento|casaram|noivado|viagem|viajou|viajar|visit\w*|nasceu|"
            r"nascimento|baptis\w*|batiz\w*|enterro|fugiu|fuga|promessa|prometeu|baile"
        ),
    ),
]
_KNOWLEDGE = [
    _Cue(
        "knowledge",
        _words(
            r"discovered|found\s+out|secret|suspected|suspicion|confess\w*|learnt|learned|"
            r"aware|knew\s+(?:that|of)|"
            r"soube|descobri\w*|segredo|suspeit\w*|desconfi\w*|confess\w*|sabia\s+(?:que|de)"
        ),
    ),
]
_APPEARANCE = [
    _Cue("appearance", _words(_LOOKS_ADJ), before=_DESCRIBING),
    _Cue("appearance", _words(_BODY), within=_BODY_ADJ),
    _Cue("appearance", _words(_DRESSING), within=_CLOTHES),
    _Cue("appearance", _words(_DRESS)),
]
CUES: tuple[_Cue, ...] = (
    *_APPEARANCE,
    *_LOCATION,
    *_OCCUPATION,
    *_CONDITION,
    *_POSSESSION,
    *_EVENT,
    *_KNOWLEDGE,
)
# "my father", "minha mãe": the narrator's kin, and the narrator is no name of the bible.
_FIRST_PERSON_BEFORE = re.compile(r"\b(?:my|our|meu|minha|meus|minhas|nosso|nossa)\s+(?:\w+\s+)?$")
_CLAUSE_EDGE = re.compile(r"[,;:()\[\]—–\"“”«»]|\s-\s|--")
_LEADING = re.compile(r"^(?:and|but|or|that|which|who|e|mas|ou|que|quando|porque)\s+", re.I)


_NOT_AN_OWNER_BEFORE = re.compile(
    r"(?<!\w)(?:the|de|do|da|dos|das|á|à|ao|em|na|no|in|at|to|from|into|para)\s+$", re.I
)
# A name that is a place by its own words ("Netherfield Park", "Lucas Lodge", "Rua dos
# Invalidos"), whatever kind the bible gave it.
_PLACE_NAME = re.compile(
    r"(?:^(?:rua|praca|largo|travessa|igreja|fazenda|morro|beco|ilha|mount|lake|port|saint|"
    r"st\.?|sao|santa)\b|\b(?:park|lodge|house|hall|street|square|lane|court|abbey|castle|"
    r"lakes|church|inn|manor|place|road|row|gardens|farm|village|town|county|shire)$)"
)
_MODIFIER_AFTER = re.compile(
    r"^\s+(?:estate|family|house|park|village|church|road|street|lane|party|people)\b"
)


def _folded(text: str) -> str:
    """`fold` character by character, so offsets in the folded text are offsets in `text`."""
    return "".join((fold(c) or c)[:1] for c in text)


def _clause(text: str, s_start: int, s_end: int, start: int, end: int) -> tuple[int, int]:
    """The clause of the sentence [s_start, s_end) around text[start:end]: between the nearest
    commas, dashes or brackets; a clause of one or two words takes the one after it too."""
    left = s_start
    for match in _CLAUSE_EDGE.finditer(text, s_start, start):
        left = match.end()
    after = _CLAUSE_EDGE.search(text, end, s_end)
    right = after.start() if after else s_end
    if len(text[left:right].split()) < 3 and after is not None:
        further = _CLAUSE_EDGE.search(text, after.end(), s_end)
        right = further.start() if further else s_end
    return left, right


def _value(text: str, left: int, right: int, start: int, end: int) -> str:
    words = text[left:right].split()
    if len(words) > MAX_VALUE_WORDS:
        before = text[left:start].split()[-5:]
        after = text[end:right].split()[:5]
        words = [*before, *text[start:end].split(), *after]
    value = " ".join(words).strip(" .!?…'’")
    return _LEADING.sub("", value)


def cue_facts(text: str, names: Names) -> list[CueFact]:
    """The facts the cues find about the chapter's people, at most one per person, attribute
    and sentence, in text order."""
    spans = name_spans(text, names)
    # "the Lakes", "de Corityba", "Longbourn estate": a mention that reads as a place or as a
    # noun's modifier owns no fact, whatever kind the bible gave the name.
    named = [s for s in spans if s[2] not in names.not_people]
    people = [
        s
        for s in named
        if not _PLACE_NAME.search(fold(s[2]))
        and not _NOT_AN_OWNER_BEFORE.search(text[max(0, s[0] - 12) : s[0]])
        and not _MODIFIER_AFTER.match(text[s[1] : s[1] + 20])
    ]
    if not people:
        return []
    folded = _folded(text)
    found: dict[tuple[str, str, int], CueFact] = {}

    def add(owner: str, attribute: str, value: str, s_start: int, start: int, end: int) -> None:
        key = (owner, attribute, s_start)
        if value and key not in found:
            quote, q_start, q_end = quote_around(text, start, end)
            found[key] = CueFact(owner, attribute, value, quote, q_start, q_end)

    for cue in CUES:
        for match in cue.pattern.finditer(folded):
            start, end = match.span()
            # A cue word inside a name is the name's ("padre Feijó" is no calling here); the
            # cue's first word decides ("morava na Rua de Matacavalos" still lives there).
            first = start + len(folded[start:end].split()[0])
            if any(a < first and start < b for a, b, _ in spans):
                continue
            s_start, s_end = sentence_bounds(text, start, end)
            left, right = _clause(text, s_start, s_end, start, end)
            # The clause's edge counts as context: ", alta, forte" lists looks.
            edge = left - 1 if left > s_start else left
            if cue.before is not None and not cue.before.search(folded[edge:start]):
                continue
            if cue.within is not None and not cue.within.search(folded[left:right]):
                continue
            if cue.attribute == "appearance" and _NOT_A_PERSON_AFTER.match(folded[end:]):
                continue
            if cue.capital_after:
                place = re.match(r"[A-ZÀ-Ý][\wà-ÿ'-]+", text[end:])
                if place is None or any(a == end for a, _, _ in named):
                    continue  # "went to Jane" names a person, not a place
                end = end + place.end()
                right = max(right, end)
            if cue.name_after:
                close = [n for a, _, n in named if end <= a <= min(right, end + NAME_AFTER_CHARS)]
                owner = close[0] if close else None
            else:
                owner = _owner(people, text, s_start, s_end, start)
            if owner is None:
                continue
            add(owner, cue.attribute, _value(text, left, right, start, end), s_start, start, end)
    for match in _KIN_WORD.finditer(folded):
        start, end = match.span()
        within = [(a, b, n) for a, b, n in named if a < end and start < b]
        if within:
            # "olhe cá, mana Gloria": a brother or sister speaks; "Tio Cosme" is what the
            # whole house calls him, and says nothing new each time.
            a, b, name = within[0]
            if a == start and folded[start:end] in _SIBLING_ADDRESS:
                s_start, s_end = sentence_bounds(text, start, end)
                left, right = _clause(text, s_start, s_end, start, end)
                add(name, "family", _value(text, left, right, start, b), s_start, start, b)
            continue
        s_start, s_end = sentence_bounds(text, start, end)
        left, right = _clause(text, s_start, s_end, start, end)
        if _SAID.search(folded[left:start]) or _FIRST_PERSON_BEFORE.search(folded[left:start]):
            continue
        link = _kin_link(text, named, s_start, s_end, start, end)
        if link is not None:
            owner, lo, hi = link
            add(owner, "family", " ".join(text[lo:hi].split()), s_start, start, end)
        elif _HAD_KIN.search(folded[left:start]):
            owner = _owner(people, text, s_start, s_end, start)
            if owner is not None:
                add(owner, "family", _value(text, left, right, start, end), s_start, start, end)
    return sorted(found.values(), key=lambda f: (f.start, f.attribute))


def _kin_link(
    text: str,
    people: Sequence[tuple[int, int, str]],
    s_start: int,
    s_end: int,
    start: int,
    end: int,
) -> tuple[str, int, int] | None:
    """The person a kin word at text[start:end] ties to a name next to it, and the span of the
    phrase that says so: the name after ("his daughter Maria", "a filha do Tartaruga": the
    one named is the kin or the kin's) wins over the name before ("Elizabeth's intimate
    friend", "Escobar e a mulher")."""
    for a, b, name in people:
        if end <= a < s_end and _KIN_THEN_NAME.match(text[end:a]):
            determiner = re.search(r"(?:\S+\s+){0,2}$", text[s_start:start])
            lo = s_start + determiner.start() if determiner else start
            return name, lo, b
    for a, b, name in reversed(people):
        if s_start <= a and b <= start and _NAME_THEN_KIN.match(text[b:start]):
            return name, a, end
    return None


def _owners(people: Sequence[tuple[int, int, str]], s_start: int, s_end: int) -> set[str]:
    return {n for a, _, n in people if s_start <= a < s_end}


_MALE = re.compile(r"^(?:mr|sir|lord|colonel|captain|dr|senhor|sr|padre|tio|dom|frei)\b\.?", re.I)
_FEMALE = re.compile(r"^(?:mrs|miss|lady|dona|d|sra|tia|prima|madame|mme|sinha)\b\.?", re.I)
_SUBJECT_PRONOUN = re.compile(r"\b(?:he|she|they|ele|ela|eles|elas)\b", re.I)


def _gender(name: str) -> str | None:
    if _MALE.match(name):
        return "m"
    if _FEMALE.match(name):
        return "f"
    return None


_PRONOUN_GENDER = {"he": "m", "ele": "m", "she": "f", "ela": "f"}


def _owner(
    people: Sequence[tuple[int, int, str]], text: str, s_start: int, s_end: int, at: int
) -> str | None:
    """Whom the sentence's cue is about: a person it names (the nearest before the cue, else
    the first after), or, for a sentence that names nobody, the person named last before it
    ("Mr. Collins … He was a tall, heavy-looking young man"; "Não podia tirar os olhos
    daquella creatura … alta, forte e cheia" after lines of dialogue with her). A "he" or
    "she" between a name and the cue in one sentence may be someone else: kept only when a
    title agrees; across sentences, dropped only when a title disagrees."""
    named_here = _owners(people, s_start, s_end)
    owner = owner_of(people, text, at)
    if owner is not None and owner in named_here:
        last = max((b for a, b, n in people if n == owner and s_start <= a < at), default=at)
        pronoun = _SUBJECT_PRONOUN.search(text, last, at)
        # "they" has no gender: it never stands for one named person.
        said = _PRONOUN_GENDER.get(pronoun.group().lower(), "") if pronoun else None
        if pronoun is not None and said != _gender(owner):
            return None
        return owner
    if named_here or in_speech(text, at, "\n\n"):
        return None  # another person is named here, or a character says it of someone
    # The person named last, not as the object of "to"/"para" (on the annotated chapters,
    # whom a nameless description is of is far more often the last subject than the last
    # person looked at or spoken to).
    before = [(b, n) for a, b, n in people if at - CARRY_CHARS <= a and b <= at]
    if not before:
        return None
    last, owner = before[-1]
    known = _gender(owner)
    for pronoun in _SUBJECT_PRONOUN.finditer(text, last, at):
        said = _PRONOUN_GENDER.get(pronoun.group().lower())
        if said is not None and known is not None and said != known:
            return None
    return owner
