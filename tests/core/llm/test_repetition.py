"""The loop guard: loops are caught early and cut before they start; legitimate repetition
(refrains, lists with a fixed template, anaphora, dialogue) is left alone."""

from __future__ import annotations

import pytest

from services.core.llm.repetition import (
    LoopGuard,
    distinct_n,
    find_loop,
    repeated_ngram_share,
    text_before_loop,
    words,
)

PROSE_PT = (
    "Uma noite destas, vindo da cidade para o Engenho Novo, encontrei no trem da Central um "
    "rapaz aqui do bairro, que eu conheço de vista e de chapéu. Cumprimentou-me, sentou-se ao "
    "pé de mim, falou da lua e dos ministros, e acabou recitando-me versos. A viagem era curta, "
    "e os versos pode ser que não fossem inteiramente maus. Sucedeu, porém, que, como eu estava "
    "cansado, fechei os olhos três ou quatro vezes; tanto bastou para que ele interrompesse a "
    "leitura e metesse os versos no bolso. No dia seguinte entrou a dizer de mim nomes feios, e "
    "acabou alcunhando-me Dom Casmurro. Os vizinhos, que não gostam dos meus hábitos reclusos e "
    "calados, deram curso à alcunha, que afinal pegou. Nem por isso me zanguei."
)
REFRAIN_PT = (
    "Marina desceu ao cais antes do sol, com o lenço da mãe preso no pulso.\n"
    "Ó mar salgado, quanto do teu sal são lágrimas de Portugal!\n"
    "Os barcos voltavam vazios, e os homens calavam o que tinham visto na costa.\n"
    "Ó mar salgado, quanto do teu sal são lágrimas de Portugal!\n"
    "Ela contou as velas uma por uma, e nenhuma era a do pai, nenhuma trazia a bandeira.\n"
    "Ó mar salgado, quanto do teu sal são lágrimas de Portugal!\n"
    "Quando a noite caiu, acendeu a lanterna e ficou esperando na pedra fria do molhe.\n"
    "Ó mar salgado, quanto do teu sal são lágrimas de Portugal!\n"
)
CRITIQUE_LIST_PT = "\n".join(
    f"{i}. **O que este capítulo diz:** {said}. **O que o capítulo anterior estabeleceu:** "
    f"{before} [cap. {i} — {title}]. **Como corrigir:** {fix}."
    for i, (said, before, title, fix) in enumerate(
        [
            ("Capitu tem olhos azuis", "os olhos de Capitu são de ressaca, escuros", "Olhos",
             "descreva os olhos como escuros"),
            ("Bentinho vive em Lisboa", "Bentinho mora no Engenho Novo", "O trem",
             "mantenha a casa no Rio de Janeiro"),
            ("José Dias é primo da família", "José Dias é agregado da casa", "O agregado",
             "chame-o de agregado"),
            ("a mãe se chama Maria", "a mãe é Dona Glória", "A denúncia",
             "use o nome Dona Glória"),
        ],
        start=1,
    )
)  # fmt: skip
ANAPHORA_EN = (
    "She remembered the sea. She remembered the salt on her father's hands. She remembered the "
    "lantern swinging over the quay, the gulls that followed the boats home, the bread her "
    "mother left on the table. She remembered the night the storm took the pier, and the "
    "morning after, when the whole village walked the beach without a word. She remembered, "
    "and she did not forgive, because forgiving would have meant forgetting the sound of the "
    "bells that rang for the men who never came back."
)
DIALOGUE_PT = (
    "— Você vem? — perguntou ela.\n— Não sei — disse ele.\n— Você vem ou não vem?\n"
    "— Já disse que não sei, Marina. O barco sai às seis, e eu ainda não falei com o capitão.\n"
    "— Então fale hoje. Amanhã pode ser tarde, e você sabe disso melhor do que eu.\n"
    "— Sei. Sei, sim. Mas o meu pai ainda está doente, e a minha mãe não dorme há dias.\n"
)
LOOP_PT = "O farol superior " * 60
LOOP_SENTENCE_PT = (
    "Análise do capítulo. O que é o que este capítulo este descrevendo: a chegada de Ana. "
    + "O que é o que este capítulo este descrevendo: a chegada de Ana ao farol. " * 20
)


def streamed(text: str, size: int = 3) -> LoopGuard:
    """Feed the text in small pieces, as tokens arrive."""
    guard = LoopGuard()
    for i in range(0, len(text), size):
        if guard.feed(text[i : i + size]):
            break
    guard.finish()
    return guard


@pytest.mark.parametrize(
    "text",
    [
        PROSE_PT,
        REFRAIN_PT,
        CRITIQUE_LIST_PT,
        ANAPHORA_EN,
        DIALOGUE_PT,
        PROSE_PT + "\n\n" + PROSE_PT[:200],
    ],
    ids=["prose", "refrain", "critique-list", "anaphora", "dialogue", "prose-quoting-itself"],
)
def test_legitimate_repetition_does_not_trigger(text: str) -> None:
    assert not streamed(text).triggered
    assert find_loop(text) is None


def test_refrain_and_list_stay_under_the_flag_share() -> None:
    assert repeated_ngram_share(REFRAIN_PT) < 0.4
    assert repeated_ngram_share(CRITIQUE_LIST_PT) < 0.4
    assert repeated_ngram_share(PROSE_PT) < 0.05


def test_a_looped_phrase_is_caught_within_a_few_dozen_words() -> None:
    text = "Ana chegou ao farol ao anoitecer. " + LOOP_PT
    guard = LoopGuard()
    fed = ""
    for piece in text.split(" "):
        fed += piece + " "
        if guard.feed(piece + " "):
            break
    assert guard.triggered
    assert len(words(fed)) < 80, "stopped early, long before max_tokens"
    kept = text_before_loop(guard.text, guard.verdict)  # type: ignore[arg-type]
    assert kept == "Ana chegou ao farol ao anoitecer. O farol superior"


def test_a_looped_sentence_is_cut_after_its_first_copy() -> None:
    guard = streamed(LOOP_SENTENCE_PT, size=4)
    assert guard.triggered and guard.verdict is not None
    kept = text_before_loop(guard.text, guard.verdict)
    assert kept.startswith("Análise do capítulo.")
    assert kept.count("este capítulo este descrevendo") == 1
    assert repeated_ngram_share(kept) < 0.15


def test_a_long_period_loop_is_caught_by_the_long_window() -> None:
    sentence = (
        "Depois do jantar o velho capitão contou outra vez a história do naufrágio, dos três "
        "dias no bote, da sede, do menino que rezava e do navio inglês que apareceu no "
        "horizonte quando ninguém mais acreditava em nada, e todos choraram juntos na proa. "
    )
    guard = streamed(sentence * 8, size=5)
    assert guard.triggered and guard.verdict is not None
    assert text_before_loop(guard.text, guard.verdict).count("naufrágio") == 1


def test_a_loop_without_spaces_is_caught() -> None:
    guard = streamed("A resposta é esta: " + "!" * 400)
    assert guard.triggered and guard.verdict is not None
    assert text_before_loop(guard.text, guard.verdict) == "A resposta é esta: !"
    guard = streamed("Fim" + "—=" * 200)
    assert guard.triggered


def test_a_short_answer_that_is_only_a_loop_is_judged_at_the_end() -> None:
    guard = streamed("Sim. " + "O mar O mar " * 8)
    assert guard.triggered


def test_short_and_empty_texts() -> None:
    assert not streamed("").triggered
    assert not streamed("Sim.").triggered
    assert repeated_ngram_share("") == 0.0 and distinct_n("um") == 0.0


def test_measures() -> None:
    assert repeated_ngram_share(LOOP_PT) > 0.9
    assert distinct_n(LOOP_PT) < 0.05
    assert distinct_n(PROSE_PT) > 0.9
    # Words are Unicode: accents and cedillas belong to the word.
    assert words("Ação, coração — é!") == ["ação", "coração", "é"]
