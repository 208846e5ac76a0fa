"""Candidate conflicts: planted contradictions found, explained changes (dyed, now, birthday,
flashback, rumour denied) left alone, citations verbatim in their chapters."""

from __future__ import annotations

from services.core.bible.text_facts import Names, extract_facts, role_names
from services.core.continuity.candidates import Candidate, ChapterDoc, ChapterFact, find_candidates

NAMES = Names.of([("Mara Quill", ["Mara"]), ("Elsie Dunmore", ["Elsie"]), ("Dita", [])])


def audit(*texts: str, names: Names = NAMES) -> list[Candidate]:
    chapters = [ChapterDoc(f"c{i}", i, f"Ch {i}", 1, t) for i, t in enumerate(texts, 1)]
    facts = [ChapterFact(c, f) for c in chapters for f in extract_facts(c.text, names)]
    found = find_candidates(chapters, facts, names)
    for candidate in found:
        assert len(candidate.citations) >= 2
        for cite in candidate.citations:
            assert cite.chapter.text[cite.start : cite.end] == cite.quote
    return found


def test_eye_colour_contradiction_is_found_with_both_chapters() -> None:
    found = audit("Mara had green eyes.", "Nothing here.", "Mara looked up; her grey eyes shone.")
    assert len(found) == 1
    assert (found[0].entity, found[0].values) == ("Mara Quill", ("green", "grey"))
    assert [c.chapter.position for c in found[0].citations] == [1, 3]
    assert found[0].confident


def test_dyed_hair_is_an_explained_change() -> None:
    assert not audit(
        "Elsie had black hair.", "Elsie had dyed it at the chemist's. Her hair was bright yellow."
    )


def test_portuguese_hair_painted_is_explained() -> None:
    assert not audit(
        "Dita tinha o cabelo grisalho.", "Dita tinha pintado o cabelo de preto. Dita, cabelo preto."
    )


def test_occupation_change_with_became_is_explained_without_it_found() -> None:
    assert not audit("Elsie was a teacher.", "Elsie became a nurse that winter.")
    found = audit("Elsie was a teacher.", "Elsie was a nurse, as she always had been.")
    assert [c.attribute for c in found] == ["occupation"]


def test_age_jump_is_found_and_a_birthday_is_not() -> None:
    assert not audit("Mara was seventeen years old.", "Mara, now eighteen, smiled.")
    found = audit("Elsie was twenty-four.", "Elsie had just turned thirty-one, she said.")
    assert [(c.attribute, c.values) for c in found] == [("age", ("24", "31"))]


def test_age_in_a_flashback_is_not_a_conflict() -> None:
    assert not audit(
        "Mara was seventeen years old.", "Mara remembered the winter when she was eleven."
    )


def test_age_fits_the_years_gone_by() -> None:
    assert not audit("In March of 1950 Elsie was twenty.", "In May of 1955 Elsie was twenty-five.")


def test_dead_character_acting_later_is_found() -> None:
    found = audit("Elsie died in her sleep.", "Nothing.", "Elsie came in and said hello.")
    assert [(c.attribute, c.reason) for c in found] == [("condition", "died")]
    assert [c.chapter.position for c in found[0].citations] == [1, 3]


def test_rumoured_death_denied_later_is_not_a_conflict() -> None:
    assert not audit(
        "Word had come that Elsie had drowned.",
        "Elsie walked in. The rumour of her drowning had been false.",
    )


def test_remembering_the_dead_is_not_acting() -> None:
    assert not audit("Elsie died in May.", "Mara remembered how Elsie laughed.")


def test_dates_running_backwards() -> None:
    found = audit(
        "In the spring of 1921 Mara was happy. On the 2nd of May, Mara went out.",
        "Three days later, on the 29th of April, news came.",
    )
    assert [c.reason for c in found] == ["date"]


def test_portuguese_month_weeks_later_before_the_previous_month() -> None:
    found = audit(
        "Julho chegou frio e seco.", "Duas semanas depois, no calor de janeiro, Dita saiu."
    )
    assert [c.reason for c in found] == ["month"]


def test_flashback_date_is_not_a_conflict() -> None:
    assert not audit(
        "In March of 1952 Dita opened the shop.", "Dita lembrou-se de 1938 e de abril de 1938."
    )


def test_the_lame_leg_changing_sides_is_found() -> None:
    found = audit(
        "Elsie Dunmore limped on her left leg, which a falling spar had crushed.",
        "Nothing.",
        "Elsie's right leg, the lame one, hurt her badly in the cold.",
    )
    assert [(c.attribute, c.values) for c in found] == [("lame leg", ("left", "right"))]
    assert not audit("Dita mancava da perna esquerda.", "Dita, coxa da perna esquerda, riu.")


def test_a_relationship_that_changes_kind_is_found_in_both_languages() -> None:
    names = Names.of([("Jonah Pike", ["Jonah"]), ("Elsie Dunmore", ["Elsie"]), ("Skerries", [])])
    found = audit(
        "Elsie's brother, Jonah Pike, was mending nets.",
        "On Sunday, Jonah took the boat out beyond the Skerries. His cousin Elsie watched him go.",
        names=names,
    )
    assert [(c.entity, c.attribute, c.values) for c in found] == [
        ("Jonah Pike", "relationship to Elsie Dunmore", ("sibling", "cousin"))
    ]
    pt = Names.of([("Firmino Batista", ["Firmino"]), ("Dita", [])])
    found = audit(
        "Firmino Batista, irmão de Dita, abriu.", "Firmino, primo de Dita, riu.", names=pt
    )
    assert [c.values for c in found] == [("sibling", "cousin")]
    assert not audit("Firmino Batista, irmão de Dita, abriu.", "Firmino, irmão de Dita.", names=pt)


def test_a_rule_broken_as_usual_is_found_in_both_languages() -> None:
    found = audit(
        "No boat left the harbour on a Sunday: the chain stayed up.",
        "Nothing happened.",
        "Jonah took his boat out of the harbour, as the boats did every Sunday.",
    )
    assert [(c.reason, [x.chapter.position for x in c.citations]) for c in found] == [
        ("habit", [1, 3])
    ]
    assert not found[0].confident  # the judge weighs it
    found = audit(
        "Depois disso, nunca se tocava o sino depois das oito da noite.",
        "À meia-noite, como todas as noites, o sino da matriz tocou doze badaladas.",
    )
    assert [c.reason for c in found] == ["habit"]


def test_never_and_as_usual_about_different_things_are_no_conflict() -> None:
    assert not audit(
        "Mara had green eyes and red hair that the wind would never leave alone.",
        "Her green eyes looked back at her from the glass, and she combed her hair as usual.",
    )
    # A sentence stating a habit with "never" in it is no rule.
    assert not audit(
        "Every night he wrote the hour the lamp was lit, in a hand that never changed.",
        "She lit the lamp every night and wrote the hour.",
    )
    # The habit is over: "for the first time" / a change marker near it.
    assert not audit(
        "No boat left the harbour on a Sunday.",
        "For the first time, a boat left the harbour on a Sunday, as they did every Sunday now.",
    )


def test_a_trait_reversed_as_always_is_found_in_both_languages() -> None:
    names = role_names(Names.of([("Captain Ambrose Hale", ["Hale"]), ("Mara Quill", ["Mara"])]))
    found = audit(
        "Captain Ambrose Hale lived above the bay.\n\nThe captain was the calmest man Mara had "
        "ever met.",
        "Nothing happened.",
        "Mara came in. The captain, as always, roared at everyone and flew into a rage.",
        names=names,
    )
    assert [(c.reason, c.entity, c.attribute) for c in found] == [
        ("trait", "Captain Ambrose Hale", "temper")
    ]
    assert [c.chapter.position for c in found[0].citations] == [1, 3]
    assert not found[0].confident  # the judge weighs it
    pt = Names.of([("Firmino Batista", ["Firmino", "seu Firmino"])])
    found = audit(
        "Firmino era conhecido por uma coisa só: era avarento.",
        "Seu Firmino estava à porta, generoso como sempre, fiando a todo mundo.",
        names=pt,
    )
    assert [(c.reason, c.attribute) for c in found] == [("trait", "generosity")]
    # "nunca foi devota" is the other pole of "devota".
    found = audit("Dita era tão devota.", "Dita, que nunca foi devota, ria-se dos padres.")
    assert [(c.entity, c.attribute) for c in found] == [("Dita", "devotion")]


def test_a_trait_that_changes_in_the_story_is_no_conflict() -> None:
    # Told the other way without "as always": the character may have changed.
    assert not audit("Mara was the calmest girl.", "Mara roared at everyone that night.")
    # A change told near it.
    assert not audit(
        "Mara was the calmest girl.",
        "Since then Mara had become furious at everything, as always after a loss.",
    )
    # What a character says of another is an opinion.
    assert not audit("Mara was the calmest girl.", '"Mara is always furious," said Elsie.')


def test_an_age_with_a_memory_after_it_is_still_the_present_age() -> None:
    found = audit(
        "Joaquim tinha quarenta e cinco anos e um bigode que a filha puxava quando era pequena.",
        "Joaquim, com seus trinta anos de idade, fez um discurso.",
        names=Names.of([("Joaquim Lopes", ["Joaquim"])]),
    )
    assert [(c.reason, c.values) for c in found] == [("age", ("45", "30"))]


def test_a_saint_of_the_same_name_is_not_the_dead_man_acting() -> None:
    names = Names.of([("Pedro Santiago", ["Pedro"])])
    assert audit("Pedro Santiago morreu em casa.", "Pedro Santiago entrou da rua.", names=names)
    assert not audit(
        "Pedro Santiago morreu em casa.", "Quanto às de S. Pedro, disse-me tudo.", names=names
    )


def test_the_month_going_back_on_the_same_day_or_in_the_next_chapter_is_found() -> None:
    found = audit(
        "It was a cold afternoon in November.", "That same afternoon, in March, Mara ran."
    )
    assert [(c.reason, c.values) for c in found] == [("month", ("11", "3"))]
    found = audit(
        "It was by now the middle of November.", "It was the twentieth of October, and cold."
    )
    assert [c.reason for c in found] == ["month"]
    # A year going by, or two chapters apart: a later October, no conflict.
    assert not audit("It was November.", "A year went by. It was the twentieth of October.")
    assert not audit("It was November.", "Nothing.", "It was the twentieth of October.")
    assert not audit("Era novembro.", "Naquela mesma tarde, que era de novembro, Dita saiu.")


def test_a_body_told_fat_then_thin_unexplained_is_found() -> None:
    names = Names.of([("Tio Cosme", ["tio Cosme", "Cosme"])])
    found = audit(
        "Tio Cosme sorria.\n\nEra gordo e pesado, tinha a respiração curta.",
        "Da sala ouvia-se tio Cosme, magro como um caniço, a subir a escada.",
        names=names,
    )
    assert [(c.reason, c.entity, c.attribute) for c in found] == [("trait", "Tio Cosme", "build")]
    assert not audit(
        "Tio Cosme era gordo e pesado.",
        "Depois da febre, tio Cosme ficou magro como um caniço.",
        names=names,
    )


def test_having_a_horse_then_never_having_owned_one_is_found() -> None:
    names = role_names(Names.of([("Captain Ambrose Hale", ["Captain Hale"]), ("Elsie", [])]))
    found = audit(
        "Captain Hale kept a grey mare called Bess in the paddock.",
        '"I never owned a horse in my life," the captain added, when Elsie asked him.',
        names=names,
    )
    assert [(c.reason, c.entity, c.values) for c in found] == [
        ("possession", "Captain Ambrose Hale", ("horse", "horse"))
    ]
    # Someone else's horse, or never a dog: no conflict.
    assert not audit(
        "Captain Hale kept a grey mare called Bess.",
        '"I never owned a dog in my life," the captain added.',
        names=names,
    )


def test_portuguese_a_pet_then_never_an_animal_in_speech_is_found() -> None:
    names = Names.of([("Lúcia", []), ("Pipoca", []), ("Dita", [])])
    found = audit(
        "Lúcia foi com Pipoca, o cachorro dela, ao armazém.",
        "Na feira, Lúcia parou diante dos filhotes.\n\n— Mãe, posso ter um? Eu nunca tive um "
        "bicho na vida.",
        names=names,
    )
    assert [(c.reason, c.entity, c.values) for c in found] == [
        ("possession", "Lúcia", ("dog", "animal"))
    ]


def test_income_stated_twice_with_different_sums_is_found_and_hopes_are_not_income() -> None:
    names = Names.of([("Mr. Bennet", []), ("Mrs. Bennet", [])])
    found = audit(
        "Mr. Bennet's property consisted almost entirely in an estate of two thousand a year.",
        '"If a smart young colonel, with five or six thousand a year, should want one of my '
        'girls," said Mrs. Bennet.\n\nMr. Bennet, whose estate brought him ten thousand a year, '
        "smiled.",
        names=names,
    )
    assert [(c.entity, c.attribute, c.values) for c in found] == [
        ("Mr. Bennet", "income a year", ("2000", "10000"))
    ]


def test_an_age_told_of_the_narrator_or_of_kin_is_not_the_named_persons() -> None:
    names = Names.of([("Capitu", []), ("Tio Cosme", ["tio Cosme"])])
    facts = extract_facts(
        "Capitu riu.\n\nMinha mãe, que naquele ano contava trinta e cinco anos, chamou-me.\n\n"
        "Tio Cosme sorria.\n\nQuando me vi no alto (tinha nove anos), gritei.",
        names,
    )
    assert [f for f in facts if f.attribute == "age"] == []
