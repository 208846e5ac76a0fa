"""The story bible through the real stack (API, workers, the small LLM): extraction after each
save, `build_bible` over a small Portuguese book, quotes verbatim at their offsets, state as of
a chapter, the author's edits surviving a forced rebuild, and bad input answered with 4xx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.job_client import finished, submit, succeeded

# The small model shares two cores with everything else here: an LLM pass over the book takes
# minutes when the machine is busy.
pytestmark = pytest.mark.timeout(1200)
LLM_WAIT_S = 900

CHAPTERS = [
    (
        "A vizinha",
        "Capitu morava na Rua de Matacavalos com o pai, o Sr. Pádua. Capitu tinha catorze anos "
        "e uns olhos de ressaca. O vizinho, Bentinho, gostava de Capitu.\n\n"
        "— Vamos ao quintal, disse Capitu.\n\nJosé Dias, o agregado, observava tudo da varanda.",
    ),
    (
        "O seminário",
        "Bentinho foi mandado ao seminário de São José. José Dias levou Bentinho até a porta. "
        "Capitu ficou na janela, triste. No seminário, Bentinho conheceu Escobar, que era de "
        "Curitiba e gostava de contas.",
    ),
    (
        "O mar",
        "Anos depois, Capitu casou com Bentinho. Capitu morava agora na Glória, perto do mar. "
        "Escobar morreu afogado numa manhã de ressaca. Bentinho chorou no enterro de Escobar.",
    ),
    (
        "O fim",
        "Bentinho ficou sozinho na casa do Engenho Novo. Os amigos chamavam Bentinho de "
        "Dom Casmurro.",
    ),
]


def bible(book_id: str) -> str:
    return f"/books/{book_id}/bible"


def new_book(api: httpx.Client) -> tuple[str, list[str]]:
    book = api.post("/books", json={"title": "Dom Casmurro", "language": "pt-BR"}).json()["id"]
    ids = []
    for title, text in CHAPTERS:
        saved = api.post("/chapter/save", json={"book_id": book, "title": title, "text": text})
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["chapter_id"])
    return book, ids


def wait_for_extractions(api: httpx.Client, book: str, count: int) -> list[dict[str, Any]]:
    """The saves' follow-ups: one extract_facts per chapter once its indexing ran."""
    deadline = time.monotonic() + LLM_WAIT_S
    while True:
        jobs = api.get(
            "/jobs", params={"book_id": book, "kind": "extract_facts", "limit": 100}
        ).json()["items"]
        if len(jobs) >= count:
            return [succeeded(api, j["id"], timeout=LLM_WAIT_S) for j in jobs]
        assert time.monotonic() < deadline, f"{len(jobs)} extractions after the saves"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def saved_book(stack: Stack) -> Iterator[tuple[str, list[str], list[dict[str, Any]]]]:
    """One book for the module (each LLM pass costs minutes here): its chapters, and the
    extraction jobs that followed their saves."""
    with stack.client() as api:
        book, chapters = new_book(api)
        follow_ups = wait_for_extractions(api, book, len(CHAPTERS))
    yield book, chapters, follow_ups


def entity(api: httpx.Client, book: str, name: str) -> dict[str, Any]:
    items = api.get(f"{bible(book)}/entities", params={"q": name}).json()["items"]
    found = [e for e in items if e["name"] == name or name in e["aliases"]]
    assert found, (name, items)
    return dict(found[0])


def assert_quotes_verbatim(api: httpx.Client, book: str) -> int:
    texts: dict[tuple[str, int], str] = {}
    checked = 0
    for item in api.get(f"{bible(book)}/entities", params={"limit": 500}).json()["items"]:
        detail = api.get(f"{bible(book)}/entities/{item['id']}").json()
        for fact in detail["facts"]:
            key = (fact["chapter_id"], fact["revision"])
            if key not in texts:
                texts[key] = api.get(
                    f"/chapters/{fact['chapter_id']}/revisions/{fact['revision']}"
                ).json()["text"]
            assert texts[key][fact["start"] : fact["end"]] == fact["quote"], fact
            checked += 1
    return checked


def test_the_bible_follows_the_saves_and_builds_with_quotes_verbatim(
    api: httpx.Client, saved_book: tuple[str, list[str], list[dict[str, Any]]]
) -> None:
    book, chapters, follow_ups = saved_book
    assert {j["chapter_id"] for j in follow_ups} == set(chapters)
    assert all(not j["result"]["skipped"] for j in follow_ups)

    # Everything extracted already: a build skips every chapter.
    built = succeeded(api, submit(api, "build_bible", book), timeout=120)
    assert (built["result"]["skipped"], built["result"]["extracted"]) == (4, 0)
    assert built["result"]["total"] == 4 and built["result"]["entities"] > 0
    again = submit(api, "extract_facts", book, chapters[0])
    assert succeeded(api, again)["result"]["skipped"] is True

    listed = api.get(f"{bible(book)}/entities").json()
    names = {e["name"] for e in listed["items"]}
    assert {"Capitu", "Bentinho", "José Dias", "Escobar"} <= names, names
    assert listed["total"] == len(listed["items"])
    mentions = [e["mentions"] for e in listed["items"]]
    assert mentions == sorted(mentions, reverse=True)
    bentinho = entity(api, book, "Bentinho")
    assert bentinho["chapters"] == chapters, "in every chapter, in book order"
    capitu = entity(api, book, "Capitu")
    assert capitu["kind"] in ("character", "place", "object", "group")

    # A forced rebuild: one request, a second one answered with the pending job.
    first = api.post(
        "/jobs", json={"kind": "build_bible", "book_id": book, "params": {"force": True}}
    )
    second = api.post(
        "/jobs", json={"kind": "build_bible", "book_id": book, "params": {"force": True}}
    )
    assert first.status_code == 202 and second.json()["id"] == first.json()["id"]
    rebuilt = succeeded(api, first.json()["id"], timeout=LLM_WAIT_S)
    result = rebuilt["result"]
    assert (result["extracted"], result["skipped"], result["failed"]) == (4, 0, 0), result
    assert rebuilt["progress"] == 1.0 and "4" in rebuilt["message"]
    children = api.get("/jobs", params={"book_id": book, "kind": "extract_facts", "limit": 100})
    mine = [j for j in children.json()["items"] if j["parent_id"] == rebuilt["id"]]
    assert len(mine) == 4 and all(j["result"]["entities"] > 0 for j in mine)
    dropped = sum(j["result"]["dropped_quotes"] for j in mine)
    facts = assert_quotes_verbatim(api, book)
    print(f"bible of 4 chapters: {result['entities']} entities, {facts} facts, {dropped} dropped")

    presence = api.get(f"{bible(book)}/presence").json()
    assert [c["id"] for c in presence["chapters"]] == chapters
    row = next(r for r in presence["entities"] if r["id"] == bentinho["id"])
    assert len(row["counts"]) == 4 and all(row["counts"])


def test_state_as_of_a_chapter_and_edits_that_survive_re_extraction(
    api: httpx.Client, saved_book: tuple[str, list[str], list[dict[str, Any]]]
) -> None:
    book, chapters, _ = saved_book
    capitu = entity(api, book, "Capitu")
    add = [
        (chapters[0], "location", "Rua de Matacavalos", "Capitu morava na Rua de Matacavalos"),
        (chapters[2], "location", "Glória", "Capitu morava agora na Glória"),
        (chapters[2], "condition", "casada", "Capitu casou com Bentinho"),
    ]
    made = []
    for chapter_id, attribute, value, quote in add:
        response = api.post(
            f"{bible(book)}/facts",
            json={
                "entity_id": capitu["id"],
                "attribute": attribute,
                "value": value,
                "chapter_id": chapter_id,
                "quote": quote,
            },
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert made[0]["origin"] == "author" and made[0]["revision"] == 1

    whole = api.get(f"{bible(book)}/entities/{capitu['id']}").json()
    first = next(f for f in whole["facts"] if f["id"] == made[0]["id"])
    assert first["until_chapter_id"] == chapters[2]
    positions = [f["chapter_position"] for f in whole["facts"]]
    assert positions == sorted(positions)

    # As of chapter 2 the marriage and the move have not happened: no fact, no "until".
    early = api.get(
        f"{bible(book)}/entities/{capitu['id']}", params={"as_of_chapter": chapters[1]}
    ).json()
    assert all(f["chapter_position"] <= 2 for f in early["facts"])
    assert all(f["until_chapter_id"] in (None, chapters[0], chapters[1]) for f in early["facts"])
    assert early["chapters"] == chapters[:2]
    state = api.get(
        f"{bible(book)}/state", params={"as_of_chapter": chapters[1], "entity_id": capitu["id"]}
    ).json()
    (entry,) = state["entities"]
    values = {(f["attribute"], f["value"]) for f in entry["facts"]}
    assert ("location", "Rua de Matacavalos") in values
    assert ("location", "Glória") not in values and ("condition", "casada") not in values
    later = api.get(f"{bible(book)}/state", params={"as_of_chapter": chapters[3]}).json()
    capitu_now = next(e for e in later["entities"] if e["entity"]["id"] == capitu["id"])
    locations = [f["value"] for f in capitu_now["facts"] if f["attribute"] == "location"]
    assert "Glória" in locations and "Rua de Matacavalos" not in locations

    # A suggestion for chapter 2 is given Capitu's state as of chapter 2, never chapter 3's.
    suggestion = submit(api, "suggest", book, chapters[1], max_tokens=16)
    receipt = succeeded(api, suggestion, timeout=LLM_WAIT_S)["result"]["receipt"]
    used = set(receipt["bible_facts"])
    assert made[0]["id"] in used, receipt
    assert made[1]["id"] not in used and made[2]["id"] not in used

    # The author's edits.
    renamed = api.patch(f"{bible(book)}/entities/{capitu['id']}", json={"name": "Capitolina"})
    assert renamed.status_code == 200 and "Capitu" in renamed.json()["aliases"]
    pinned = api.patch(f"{bible(book)}/facts/{made[1]['id']}", json={"pinned": True})
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    assert api.delete(f"{bible(book)}/facts/{made[2]['id']}").status_code == 204
    jose = entity(api, book, "José Dias")
    escobar = entity(api, book, "Escobar")
    merged = api.post(
        f"{bible(book)}/entities/{jose['id']}/merge", json={"other_ids": [escobar["id"]]}
    )
    assert merged.status_code == 200 and "Escobar" in merged.json()["aliases"]
    split = api.post(f"{bible(book)}/entities/{jose['id']}/split", json={"aliases": ["Escobar"]})
    assert split.status_code == 201 and split.json()["name"] == "Escobar"
    assert split.json()["origin"] == "author"
    mine = api.post(
        f"{bible(book)}/entities", json={"kind": "object", "name": "O retrato", "aliases": []}
    )
    assert mine.status_code == 201
    refused = api.delete(f"{bible(book)}/entities/{mine.json()['id']}")
    assert refused.status_code == 409 and "confirm=true" in refused.json()["detail"]

    # Re-extraction without the LLM: what is kept does not depend on the model's answer.
    rebuild = submit(api, "build_bible", book, force=True, use_llm=False)
    assert succeeded(api, rebuild, timeout=LLM_WAIT_S)["result"]["extracted"] == 4
    after = api.get(f"{bible(book)}/entities/{capitu['id']}").json()
    assert after["name"] == "Capitolina"
    ids = {f["id"] for f in after["facts"]}
    assert made[0]["id"] in ids and made[1]["id"] in ids and made[2]["id"] not in ids
    assert api.get(f"{bible(book)}/entities/{split.json()['id']}").status_code == 200
    assert api.get(f"{bible(book)}/entities/{mine.json()['id']}").status_code == 200
    gone = api.delete(f"{bible(book)}/entities/{mine.json()['id']}", params={"confirm": "true"})
    assert gone.status_code == 204
    assert assert_quotes_verbatim(api, book) >= 2

    # A changed chapter is extracted again after its indexing; an unchanged one is skipped.
    updated = api.put(
        "/chapter/update",
        json={
            "book_id": book,
            "chapter_id": chapters[3],
            "text": "Bentinho ficou sozinho. Capitu partira para a Suíça com o filho, Ezequiel.",
        },
    )
    assert updated.status_code == 200
    succeeded(api, updated.json()["index_job_id"], timeout=LLM_WAIT_S)
    deadline = time.monotonic() + LLM_WAIT_S
    while True:
        jobs = api.get(
            "/jobs", params={"book_id": book, "kind": "extract_facts", "limit": 100}
        ).json()["items"]
        latest = [j for j in jobs if j["chapter_id"] == chapters[3] and not j["parent_id"]]
        if len(latest) == 2:
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    done = finished(api, latest[0]["id"], timeout=LLM_WAIT_S)
    assert done["status"] == "succeeded" and done["result"]["skipped"] is False
    assert "Ezequiel" in {e["name"] for e in api.get(f"{bible(book)}/entities").json()["items"]}


def test_bad_input_gets_a_4xx_that_says_what_to_fix(
    api: httpx.Client, saved_book: tuple[str, list[str], list[dict[str, Any]]]
) -> None:
    book, chapters, _ = saved_book
    made = api.post(f"{bible(book)}/entities", json={"kind": "character", "name": "Ana"}).json()
    eid = made["id"]
    cases: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, int, str]] = [
        ("GET", "/entities/nope", None, None, 404, "entity"),
        ("GET", f"/entities/{eid}", None, {"as_of_chapter": "nope"}, 404, "chapter"),
        ("GET", "/state", None, {"as_of_chapter": "nope"}, 404, "chapter"),
        ("GET", "/state", None, None, 422, "as_of_chapter"),
        ("GET", "/entities", None, {"kind": "dragon"}, 422, "kind"),
        ("POST", "/entities", {"kind": "character", "name": "  "}, None, 422, "blank"),
        ("POST", "/entities", {"kind": "character", "name": "ana"}, None, 409, "merge"),
        ("PATCH", f"/entities/{eid}", {}, None, 422, "nothing to change"),
        ("POST", f"/entities/{eid}/merge", {"other_ids": [eid]}, None, 422, "itself"),
        ("POST", f"/entities/{eid}/merge", {"other_ids": ["nope"]}, None, 404, "nope"),
        ("POST", f"/entities/{eid}/split", {"aliases": ["Bia"]}, None, 422, "not a name"),
        (
            "POST",
            "/facts",
            {
                "entity_id": eid,
                "attribute": "age",
                "value": "x",
                "chapter_id": chapters[0],
                "quote": "Ana tinha cem anos.",
            },
            None,
            422,
            "quote",
        ),
        (
            "POST",
            "/facts",
            {
                "entity_id": eid,
                "attribute": "age",
                "value": "x",
                "chapter_id": "nope",
                "quote": "Capitu",
            },
            None,
            404,
            "chapter",
        ),
        ("PATCH", "/facts/nope", {"pinned": True}, None, 404, "fact"),
        ("DELETE", "/facts/nope", None, None, 404, "fact"),
        ("DELETE", f"/entities/{eid}", None, None, 409, "confirm=true"),
    ]
    for method, path, body, params, status, says in cases:
        response = api.request(method, bible(book) + path, json=body, params=params)
        assert response.status_code == status, (method, path, response.text)
        assert says in response.text, (method, path, response.text)
    assert api.get(f"{bible('no-such-book')}/entities").status_code == 404
