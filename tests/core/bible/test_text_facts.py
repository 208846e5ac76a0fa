"""The audit's deterministic fact patterns in pt and en: colours, ages, occupations, deaths,
departures, dates and seasons, attached to the nearest preceding name, quotes verbatim."""

from __future__ import annotations

import pytest

from services.core.bible.text_facts import (
    AGE,
    BIRTH,
    CONDITION,
    DATE,
    EYES,
    HAIR,
    OCCUPATION,
    Names,
    TextFact,
    extract_facts,
    joined_names,
    names_from_texts,
    parse_number,
    place_names,
    role_names,
)

NAMES = Names.of(
    [
        ("Mara Quill", ["Mara"]),
        ("Elsie Dunmore", ["Elsie"]),
        ("Benedita Lopes", ["Dita"]),
        ("Joaquim Lopes", ["Joaquim"]),
    ]
)


def facts_of(text: str, names: Names = NAMES) -> list[TextFact]:
    found = extract_facts(text, names)
    for fact in found:
        assert text[fact.start : fact.end] == fact.quote
    return found


def one(found: list[TextFact], attribute: str) -> TextFact:
    matching = [f for f in found if f.attribute == attribute]
    assert len(matching) == 1, matching
    return matching[0]


@pytest.mark.parametrize(
    ("words", "number"),
    [("seventeen", 17), ("thirty-one", 31), ("quarenta e cinco", 45), ("doze", 12), ("24", 24)],
)
def test_numbers_in_words(words: str, number: int) -> None:
    assert parse_number(words) == number


def test_parse_number_refuses_other_words() -> None:
    assert parse_number("several") is None


def test_english_appearance_and_age_attach_to_the_name_before() -> None:
    text = "Mara Quill came in. She was seventeen years old, with green eyes and red hair."
    found = facts_of(text)
    assert one(found, EYES).value == "green"
    assert one(found, HAIR).value == "red"
    age = one(found, AGE)
    assert (age.entity, age.value) == ("Mara Quill", "17")


def test_portuguese_appearance_age_and_occupation() -> None:
    text = (
        "Dita abriu a janela. Tinha quarenta anos, olhos castanhos e o cabelo já grisalho.\n\n"
        "O marido, Joaquim Lopes, era ferreiro. Joaquim tinha quarenta e cinco anos."
    )
    found = facts_of(text)
    assert (one(found, EYES).entity, one(found, EYES).value) == ("Benedita Lopes", "brown")
    assert one(found, HAIR).value == "grey"
    assert (one(found, OCCUPATION).entity, one(found, OCCUPATION).value) == (
        "Joaquim Lopes",
        "ferreiro",
    )
    ages = {(f.entity, f.value) for f in found if f.attribute == AGE}
    assert ages == {("Benedita Lopes", "40"), ("Joaquim Lopes", "45")}


def test_english_occupation_and_age_after_was() -> None:
    found = facts_of("Elsie was twenty-four. Elsie was a teacher at the school.")
    assert one(found, AGE).value == "24"
    assert one(found, OCCUPATION).value == "teacher"


def test_was_with_a_counted_noun_is_not_an_age() -> None:
    assert not [f for f in facts_of("Elsie was ten minutes late.") if f.attribute == AGE]


def test_deaths_in_both_languages_but_not_a_relative_s() -> None:
    assert one(facts_of("Elsie died in her sleep."), CONDITION).value == "dead"
    assert one(facts_of("Joaquim faleceu em maio."), CONDITION).value == "dead"
    assert not facts_of("Mara kept it since her mother died.")


def test_departure_for_good() -> None:
    found = facts_of("Joaquim partiu para sempre.")
    assert one(found, CONDITION).value == "gone"


def test_dates_and_seasons() -> None:
    found = facts_of("On the 2nd of May, Mara went out. In the spring of 1921 she was happy.")
    assert sorted(f.value for f in found if f.attribute == DATE) == ["0000-05-02", "1921-S1"]
    pt = facts_of("No dia 10 de abril de 1952, Dita saiu.")
    assert one(pt, DATE).value == "1952-04-10"


def test_birth_year() -> None:
    found = facts_of("Mara had been born in the winter of 1898.")
    assert one(found, BIRTH).value == "1898"


def test_without_bible_names_capitalised_words_are_names() -> None:
    found = facts_of("Then Rosalind came. She had blue eyes.", Names({}))
    assert (one(found, EYES).entity, one(found, EYES).value) == ("Rosalind", "blue")


def test_a_fact_with_no_name_before_it_is_dropped() -> None:
    assert not facts_of("She had blue eyes.")


def test_someone_else_s_eyes_and_a_place_are_not_the_name_s() -> None:
    assert not facts_of("Dita reparou nos olhos azuis da mãe.")
    places = Names.of([("Mara Quill", ["Mara"]), ("Carrow Point", [])])
    found = facts_of(
        "Mara Quill climbed the lighthouse at Carrow Point. She had green eyes.", places
    )
    assert one(found, EYES).entity == "Mara Quill"


def test_words_only_at_sentence_starts_are_not_names() -> None:
    names = names_from_texts(
        ["Tinha muito trabalho. Disse que sim a Rosa.", "Mara Quill riu. Mara saiu."]
    )
    assert "Tinha" not in names.spellings and "Disse" not in names.spellings
    assert names.spellings["Rosa"] == "Rosa" and names.spellings["Mara"] == "Mara Quill"


def test_a_place_owns_no_facts_and_a_nameless_paragraph_goes_on_about_the_one_before() -> None:
    texts = [
        "Tonico Ribeiro trazia o gado para a feira de São Bento desde menino. Morreu ali mesmo.",
        "Em São Bento ninguém esqueceu.",
    ]
    names = Names.of([("Tonico Ribeiro", ["Tonico"]), ("São Bento", [])])
    assert place_names(texts, names) == {"São Bento"}
    names = Names(names.spellings, place_names(texts, names))
    assert [(f.entity, f.value) for f in facts_of(texts[0], names)] == [("Tonico Ribeiro", "dead")]
    text = (
        "Dois dias depois, o padre Anselmo foi embora de São Bento.\n\n"
        "Tomou o trem para o Rio de Janeiro. Disse que não voltaria nunca mais ao Brasil."
    )
    names = Names.of(
        [("padre Anselmo", ["Anselmo"]), ("Rio de Janeiro", []), ("Brasil", [])],
        not_people=["Rio de Janeiro", "Brasil"],
    )
    assert [(f.entity, f.value) for f in facts_of(text, names)] == [("padre Anselmo", "gone")]
    # A dialogue paragraph before says nothing about whom the next one is about.
    assert not facts_of('"Anselmo!" she cried.\n\nDisse que não voltaria nunca mais.', names)
    assert not facts_of("O padre Anselmo chegou.\n\n--Morreu bonita, concluiu.", names)


def test_deaths_that_are_no_deaths() -> None:
    names = Names.of([("Mr. Bingley", ["Bingley"]), ("Colonel Forster", [])])
    assert not one_of(facts_of("Whether Bingley's regard had really died away, she knew not."))
    assert not facts_of("Colonel Forster came in. I thought I should have died.", names)
    assert not facts_of("Colonel Forster nearly drowned in the bay.", names)


def one_of(found: list[TextFact]) -> list[TextFact]:
    return [f for f in found if f.attribute == CONDITION]


def test_the_captain_is_the_only_named_captain() -> None:
    names = role_names(Names.of([("Captain Ambrose Hale", ["Hale"]), ("Mara Quill", ["Mara"])]))
    assert names.spellings["the captain"] == "Captain Ambrose Hale"
    assert names.spellings["The captain"] == "Captain Ambrose Hale"
    two = role_names(Names.of([("Captain Hale", []), ("Captain Pike", [])]))
    assert "the captain" not in two.spellings


def test_a_name_wrapped_over_two_lines_is_found() -> None:
    names = Names.of([("Pedro de Albuquerque Santiago", ["Pedro"])])
    found = facts_of("Quando lhe morreu o marido, Pedro de\nAlbuquerque Santiago, chorou.", names)
    assert [(f.entity, f.value) for f in found] == [("Pedro de Albuquerque Santiago", "dead")]


def test_a_shorter_name_joins_the_one_longer_name_it_begins_or_ends() -> None:
    names = joined_names(
        Names.of(
            [("Sir William", []), ("Sir William Lucas", []), ("Jane", []), ("Jane Bennet", [])]
        )
    )
    assert names.spellings["Sir William"] == "Sir William Lucas"
    assert names.spellings["Jane"] == "Jane Bennet"
    shared = joined_names(Names.of([("Bennet", []), ("Jane Bennet", []), ("Mr. Bennet", [])]))
    assert shared.spellings["Bennet"] == "Bennet"  # whose? several longer names end with it
    # A place never becomes a person's name, nor a person a place.
    mixed = joined_names(
        Names.of([("São Bento", []), ("São Bento Lopes", [])], not_people=["São Bento"])
    )
    assert mixed.spellings["São Bento"] == "São Bento"
    # Possessives in the text are the name ("Sir William's house").
    assert (
        "Sir William"
        in names_from_texts(["They met Sir William's wife and Sir William."]).spellings
    )


def test_in_trade_and_not_expected_back() -> None:
    names = Names.of([("Sir William Lucas", ["Sir William"]), ("Mr. Hurst", [])])
    trade = facts_of("Sir William Lucas had been formerly in trade in Meryton.", names)
    assert [(f.attribute, f.value) for f in trade] == [(OCCUPATION, "trade")]
    assert not facts_of("Sir William had never been in trade.", names)
    gone = facts_of(
        "Mr. Hurst had set off for the Continent, and was not expected at Netherfield again "
        "before the summer.",
        names,
    )
    assert [(f.entity, f.attribute, f.value) for f in gone] == [("Mr. Hurst", CONDITION, "gone")]
