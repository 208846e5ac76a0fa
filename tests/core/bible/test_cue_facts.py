"""Facts of free prose found by cue words, in pt and en: whom each is about, what context a cue
needs, and that every quote is verbatim."""

from __future__ import annotations

import pytest

from services.core.bible.cue_facts import CueFact, cue_facts
from services.core.bible.text_facts import Names

NAMES = Names.of(
    [
        ("Mr. Hallam", ["Hallam"]),
        ("Mrs. Hallam", []),
        ("Edith Rowe", ["Edith"]),
        ("Tom Rowe", ["Tom"]),
        ("Rosa Amaral", ["Rosa"]),
        ("Tio Anselmo", ["Anselmo"]),
        ("Lucinda", []),
        ("Jorge", []),
        ("Belcombe", []),
        ("Rua do Ouvidor", []),
    ],
    not_people=["Belcombe", "Rua do Ouvidor"],
)


def facts_of(text: str, names: Names = NAMES) -> list[CueFact]:
    found = cue_facts(text, names)
    for fact in found:
        assert text[fact.start : fact.end] == fact.quote
    return found


def about(text: str, attribute: str) -> list[tuple[str, str]]:
    return [(f.entity, f.value) for f in facts_of(text) if f.attribute == attribute]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A description after lines of dialogue with her: the person named last.
        (
            "Lucinda chegou à porta.\n\n--Que foi?\n\n--Nada.\n\nNão podia tirar os olhos "
            "daquella moça, alta, magra e séria, num vestido de chita.",
            "Lucinda",
        ),
        ("Mr. Hallam came in. He was a tall, heavy-looking man of fifty.", "Mr. Hallam"),
        ("Jorge era um rapaz esbelto, de olhos claros e fugidios.", "Jorge"),
        ("Edith had grey eyes and a pleasant countenance.", "Edith Rowe"),
    ],
)
def test_appearance_goes_to_the_person_described(text: str, expected: str) -> None:
    assert [owner for owner, _ in about(text, "appearance")] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Rosa leu a carta em voz alta.",  # a loud voice, not a tall woman
        "Edith had a handsome fortune from her aunt's side.",
        "Everything wore a happier aspect when Tom came home.",
        "Tom turned his eyes to the window.",  # eyes, but nothing said of them
        # "She" is not Mr. Hallam: the title says so.
        "Mr. Hallam thought that she was very pretty.",
    ],
)
def test_no_appearance_without_a_description(text: str) -> None:
    assert about(text, "appearance") == []


@pytest.mark.parametrize(
    ("text", "owner", "words"),
    [
        ("Mr. Hallam arrived with his daughter Edith.", "Edith Rowe", "daughter"),
        ("Lucinda, Edith's intimate friend, sat by the fire.", "Edith Rowe", "friend"),
        ("Era Rosa, a filha do Anselmo, que voltava da missa.", "Tio Anselmo", "filha"),
        ("Jorge e a mulher moravam longe.", "Jorge", "mulher"),
        ("Edith was engaged to Tom Rowe before the spring.", "Tom Rowe", "engaged"),
        ("Jorge tinha uma irmã, que era um anjo.", "Jorge", "irmã"),
    ],
)
def test_kinship_ties_two_people(text: str, owner: str, words: str) -> None:
    found = about(text, "family")
    assert found and found[0][0] == owner and words in found[0][1]


@pytest.mark.parametrize(
    "text",
    [
        '"Come here," said her mother, and Edith went.',  # who speaks, not a tie
        "Edith sat by her sister all evening.",  # a sister, but no one named
        "Rosa pensou em meu pai.",  # the narrator's kin
        # "Tio Anselmo" is a name: its "tio" states no kinship.
        "Tio Anselmo entrou sem bater.",
    ],
)
def test_no_kinship_without_a_named_tie(text: str) -> None:
    assert about(text, "family") == []


def test_location_needs_a_place_and_no_person() -> None:
    assert about("Edith lived at Belcombe with her aunt.", "location") == [
        ("Edith Rowe", "Edith lived at Belcombe with her aunt")
    ]
    assert about("Rosa e Jorge moravam em Andaraí.", "location")[0][1].endswith("em Andaraí")
    assert about("Edith went to Tom at once.", "location") == []
    # A place's name that opens with "Rua" is still the place lived in.
    assert about("Rosa morava na Rua do Ouvidor com a tia.", "location") == [
        ("Rosa Amaral", "Rosa morava na Rua do Ouvidor com a tia")
    ]


def test_occupation_needs_a_copula_or_the_name_beside_it() -> None:
    assert about("Tio Anselmo, que era advogado, leu os papeis.", "occupation") == [
        ("Tio Anselmo", "era advogado")
    ]
    assert about("The officer was Tom Rowe himself.", "occupation")[0][0] == "Tom Rowe"
    # The housekeeper is not Edith: no name stands beside the calling.
    assert about("Edith saw the housekeeper coming towards her.", "occupation") == []


def test_a_place_owns_no_fact() -> None:
    text = "They talked of the tour. Belcombe was sick with fever that year."
    assert facts_of(text) == []
    assert facts_of("Everyone at the Lakes was ill that summer.") == []


def test_condition_event_possession_and_knowledge() -> None:
    text = (
        "Tom Rowe was ill with a fever all winter. Mrs. Hallam inherited the mill from her "
        "father. Edith discovered the secret of the letters. Rosa casou com Jorge em maio."
    )
    kinds = {(f.entity, f.attribute) for f in facts_of(text)}
    assert ("Tom Rowe", "condition") in kinds
    assert ("Mrs. Hallam", "possession") in kinds
    assert ("Edith Rowe", "knowledge") in kinds
    assert ("Rosa Amaral", "event") in kinds


def test_one_fact_per_person_attribute_and_sentence() -> None:
    found = facts_of("Edith was tall, slender and pretty, with fine dark eyes.")
    assert [(f.entity, f.attribute) for f in found] == [("Edith Rowe", "appearance")]


def test_belongings_are_someones() -> None:
    assert about("Mr. Hallam had a large estate in the north.", "possession") == [
        ("Mr. Hallam", "Mr. Hallam had a large estate in the north")
    ]
    assert about("Jorge vendeu a fazenda e os escravos.", "possession")[0][0] == "Jorge"
    # Fortune that is nobody's, or luck.
    assert about("Edith spoke of a young man of large fortune.", "possession") == []
    assert about("Tom had the good fortune to arrive first.", "possession") == []


def test_a_name_made_of_place_words_owns_nothing() -> None:
    names = Names.of([("Netherfield Park", []), ("Tom Rowe", ["Tom"])])
    assert facts_of("Netherfield Park was ill kept, and its estate was sold.", names) == []


def test_a_brother_or_sister_addressing_one_is_a_tie() -> None:
    names = Names.of([("Tio Anselmo", ["Mano Anselmo", "Anselmo"])])
    (fact,) = facts_of("Mas, olhe cá, Mano Anselmo, é preciso?", names)
    assert (fact.entity, fact.attribute) == ("Tio Anselmo", "family")
    assert fact.value.startswith("Mano Anselmo")
