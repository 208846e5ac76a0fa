"""Name candidates and alias merging: deterministic rules on hand-written sentences."""

from __future__ import annotations

from services.core.bible.aliases import KnownEntity, merge_names
from services.core.bible.candidates import find_candidates, name_key

PT = (
    "Capitu chegou cedo. Quando Capitu viu José Dias, riu.\n"
    "— Venha cá, disse Capitu.\n"
    "Depois foram à casa de D. Glória, na Rua de Matacavalos. Dona Glória sorria; "
    "Glória era viúva. Bento Santiago olhava. Santiago calou-se. depois saiu.\n"
    "Mas o Sr. Pádua não veio."
)
EN = (
    "Mr. Bennet said nothing. Mrs. Bennet talked. Elizabeth Bennet laughed, and Elizabeth "
    'walked to Longbourn. "Indeed," said Jane. Jane Bennet smiled. Bennet was a name. '
    "The house was quiet. The day ended."
)


def surfaces(text: str, language: str) -> dict[str, int]:
    return {c.surface: c.count for c in find_candidates(text, language)}


def test_portuguese_candidates_skip_function_words_and_keep_titles() -> None:
    found = surfaces(PT, "pt-BR")
    assert found["Capitu"] == 3  # "Quando Capitu": the stop word is trimmed off
    assert found["José Dias"] == 1
    assert found["D. Glória"] == 1 and found["Dona Glória"] == 1
    assert found["Rua de Matacavalos"] == 1  # a particle inside a name
    assert found["Sr. Pádua"] == 1
    for word in ("Quando", "Depois", "Mas", "Venha"):
        assert word not in found, word


def test_dialogue_attribution_and_titles_hint_a_character() -> None:
    by_surface = {c.surface: c for c in find_candidates(PT, "pt-BR")}
    assert by_surface["Capitu"].dialogue == 1
    assert by_surface["Capitu"].kind_hint == "character"
    assert by_surface["D. Glória"].kind_hint == "character"
    assert by_surface["Rua de Matacavalos"].kind_hint == "place"
    english = {c.surface: c for c in find_candidates(EN, "en")}
    assert english["Jane"].dialogue == 1


def test_a_word_at_sentence_starts_that_the_text_also_writes_in_lower_case_is_no_name() -> None:
    found = surfaces("Depois veio. Depois foi. E depois? Ana ficou com Ana.", "pt-BR")
    assert "Depois" not in found
    assert found == {"Ana": 2}


def test_spans_are_offsets_of_the_name() -> None:
    for candidate in find_candidates(PT, "pt-BR"):
        for start, end in candidate.spans:
            assert " ".join(PT[start:end].split()) == candidate.surface


def test_keys_fold_accents_and_keep_the_title_class() -> None:
    assert name_key("D. Glória") == name_key("Dona Gloria") == "d|gloria"
    assert name_key("Mr. Bennet") != name_key("Mrs. Bennet")
    assert name_key("Capitú") == name_key("Capitu")
    assert name_key("Elizabeth's") == "elizabeth"


def groups_of(
    text: str, language: str, known: tuple[KnownEntity, ...] = ()
) -> dict[str, list[str]]:
    return {g.name: sorted(g.surfaces) for g in merge_names(find_candidates(text, language), known)}


def test_aliases_merge_titles_and_the_words_of_a_longer_name() -> None:
    groups = groups_of(PT, "pt-BR")
    glória = next(v for v in groups.values() if "D. Glória" in v)
    assert sorted(glória) == ["D. Glória", "Dona Glória", "Glória"]
    assert groups["Bento Santiago"] == ["Bento Santiago", "Santiago"]


def test_an_ambiguous_surname_stays_apart() -> None:
    groups = groups_of(EN, "en")
    # "Bennet" could be Mr., Mrs., Elizabeth or Jane Bennet: it joins none of them.
    assert ["Bennet"] in groups.values()
    assert groups["Mr. Bennet"] == ["Mr. Bennet"] and groups["Mrs. Bennet"] == ["Mrs. Bennet"]
    assert groups["Elizabeth Bennet"] == ["Elizabeth", "Elizabeth Bennet"]


def test_a_chapter_name_attaches_to_the_books_known_entity() -> None:
    known = (KnownEntity("e1", "Bento Santiago", "character", ("Bentinho",)),)
    merged = merge_names(
        find_candidates("Bentinho saiu. Mais tarde, Bentinho e Santiago voltaram.", "pt-BR"),
        known,
    )
    (group,) = merged
    assert group.known is not None and group.known.id == "e1"
    assert group.name == "Bento Santiago"
    assert sorted(group.surfaces) == ["Bentinho", "Santiago"]


def known_of(text: str, known: tuple[KnownEntity, ...]) -> dict[str, str | None]:
    """Each of the chapter's spellings → the id of the known entity it joined, or None."""
    return {
        surface: (g.known.id if g.known else None)
        for g in merge_names(find_candidates(text, "en"), known)
        for surface in g.surfaces
    }


def test_a_fuller_or_titled_spelling_joins_the_books_shorter_name() -> None:
    known = (
        KnownEntity("hill", "Hill", "character"),
        KnownEntity("sir", "Sir William", "character"),
        KnownEntity("charlotte", "Charlotte", "character"),
    )
    text = (
        "The letter came. Then Mrs. Hill ran in, and Sir William Lucas followed her with "
        "Charlotte Lucas. Mrs. Hill spoke first."
    )
    joined = known_of(text, known)
    assert joined["Mrs. Hill"] == "hill"
    assert joined["Sir William Lucas"] == "sir"
    assert joined["Charlotte Lucas"] == "charlotte"


def test_a_titled_spelling_stays_apart_when_the_short_name_is_ambiguous() -> None:
    # "Bennet" of the book could be Mr. or Mrs. Bennet: neither joins it.
    known = (KnownEntity("b", "Bennet", "character"),)
    text = "The ball was over. Then Mr. Bennet spoke, and Mrs. Bennet answered him at once."
    joined = known_of(text, known)
    assert joined["Mr. Bennet"] is None and joined["Mrs. Bennet"] is None
    # An entity that is already a Mrs. takes no Mr. of the same name.
    known = (KnownEntity("h", "Mrs. Hill", "character", ("Hill",)),)
    assert known_of("It was late. Then Mr. Hill came home.", known)["Mr. Hill"] is None
    # A Charlotte who already has another surname takes no second one.
    known = (KnownEntity("c", "Charlotte", "character", ("Charlotte Grey",)),)
    assert (
        known_of("The day was cold. Then Charlotte Lucas came.", known)["Charlotte Lucas"] is None
    )


def test_kinship_titles_name_one_person_and_yield_to_a_civil_title() -> None:
    text = (
        "A casa era grande. D. Gloria entrou. Então Prima Gloria sorriu. Depois disse Tio "
        "Cosme: olhe cá, Mana Gloria! E ela respondeu: Mano Cosme, espere. Tio Cosme riu."
    )
    groups = groups_of(text, "pt-BR")
    assert sorted(groups["D. Gloria"]) == ["D. Gloria", "Mana Gloria", "Prima Gloria"]
    assert sorted(groups["Tio Cosme"]) == ["Mano Cosme", "Tio Cosme"]


def test_a_double_hyphen_is_a_dash_not_part_of_a_name() -> None:
    surfaces = {c.surface for c in find_candidates("Then Elizabeth--and all of them--left.", "en")}
    assert "Elizabeth" in surfaces and not any("--" in s for s in surfaces)


def test_a_name_wrapped_over_two_lines_is_one_name_and_a_blank_line_splits() -> None:
    text = "Quando lhe morreu o marido, Pedro de\nAlbuquerque Santiago, ficou só. Depois, Pedro de Albuquerque Santiago riu."
    surfaces = {c.surface: c.count for c in find_candidates(text, "pt-BR")}
    assert surfaces.get("Pedro de Albuquerque Santiago") == 2
    assert "Albuquerque Santiago" not in surfaces
    split = {c.surface for c in find_candidates("Falou Capitu\n\nEscobar veio.", "pt-BR")}
    assert "Capitu Escobar" not in split


def test_place_hint_from_prepositions_of_place() -> None:
    found = {c.surface: c for c in find_candidates("Morava em Braga. Em Braga chovia.", "pt-BR")}
    assert found["Braga"].kind_hint == "place"
    people = {c.surface: c for c in find_candidates("Mara looked at Elsie. Elsie smiled.", "en")}
    assert people["Elsie"].kind_hint != "place"
