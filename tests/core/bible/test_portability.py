"""Moving a bible between books and in from lorebooks: our JSON round trip, Markdown,
SillyTavern and NovelAI lorebooks parsed from small hand-written samples, malformed files
rejected with a message naming the entry and field, and conflicts listed while the author's
edits are kept."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.api.limits import UPLOAD_PATH
from services.core.bible import portability, service
from services.core.bible.notes import notes_of_book
from services.core.bible.schemas import EntityCreate, FactUpdate
from services.core.books.schemas import BookCreate
from services.core.books.service import create_book
from services.core.chapters.service import save_new_chapter
from services.core.db import transaction
from services.core.errors import InvalidInput, PayloadTooLarge
from tests.core.bible.test_service import CHAPTERS, Book, build, entity_id

LIMIT = 1_000_000

SILLYTAVERN = {
    "entries": {
        "0": {
            "uid": 0,
            "key": ["Capitu", "Capitolina"],
            "keysecondary": [],
            "comment": "Capitu",
            "content": "Olhos de ressaca. Filha do Pádua.",
            "constant": False,
            "disable": False,
        },
        "1": {
            "uid": 1,
            "key": ["Matacavalos", "Rua de Matacavalos"],
            "keysecondary": ["rua"],
            "comment": "",
            "content": "A rua da infância.",
            "extensions": {"copiloto_kind": "place"},
        },
    }
}

NOVELAI = {
    "lorebookVersion": 5,
    "entries": [
        {
            "displayName": "Escobar",
            "keys": ["Escobar", "Ezequiel de Sousa Escobar"],
            "text": "Amigo do seminário, de Curitiba.",
            "enabled": True,
        },
        {"displayName": "", "keys": ["Sancha"], "text": "Mulher de Escobar."},
    ],
}


def new_book(sessions: sessionmaker[Session], title: str = "Dom") -> Book:
    with transaction(sessions) as s:
        created = create_book(s, BookCreate(title=title, language="pt-BR"))
        ids = [
            save_new_chapter(s, book_id=created.id, title=t, text=x, max_chars=10_000).chapter.id
            for t, x in CHAPTERS
        ]
    return Book(created.id, ids)


def run_import(
    sessions: sessionmaker[Session], book: Book, data: bytes, fmt: str, *, dry_run: bool = False
) -> portability.ImportReport:
    with transaction(sessions) as s:
        report = portability.import_bible(s, book.id, data, fmt, dry_run=dry_run, max_bytes=LIMIT)
        if dry_run:
            s.rollback()
    return report


def snapshot(sessions: sessionmaker[Session], book: Book) -> dict[str, object]:
    with transaction(sessions) as s:
        data = portability.export_data(s, book.id)
    for entity in data["entities"]:
        entity.pop("id")
        entity.pop("mentions")
        for fact in entity["facts"]:
            fact.pop("chapter_id")
    return {"entities": data["entities"]}


def test_json_round_trip_into_another_book(sessions: sessionmaker[Session]) -> None:
    source = new_book(sessions)
    build(sessions, source)
    capitu = entity_id(sessions, source, "Capitu")
    with transaction(sessions) as s:
        fact_id = service.get_entity(s, source.id, capitu).facts[0].id
        service.update_fact(s, source.id, fact_id, FactUpdate(pinned=True))
        data = portability.export_json(s, source.id)
    parsed = json.loads(data)
    assert parsed["format"] == "copiloto-bible" and parsed["version"] == 1
    exported = next(e for e in parsed["entities"] if e["name"] == "Capitu")
    quote = exported["facts"][0]
    assert quote["quote"] == "Capitu morava na Rua de Matacavalos."
    assert quote["chapter_title"] == "Um" and quote["revision"] >= 1 and quote["pinned"]

    target = new_book(sessions, "Cópia")
    preview = run_import(sessions, target, data, "json", dry_run=True)
    assert {c["name"] for c in preview.created} >= {"Capitu", "Bentinho"}
    with transaction(sessions) as s:
        assert service.list_entities(s, target.id).total == 0  # the preview changed nothing
    report = run_import(sessions, target, data, "json")
    assert report.conflicts == [] and report.skipped_facts == []
    assert report.created == preview.created
    copied = snapshot(sessions, target)
    for entity in copied["entities"]:  # type: ignore[attr-defined]
        assert entity["origin"] == "author"
        entity["origin"] = "extracted"
        entity["edited"] = False
        for fact in entity["facts"]:
            assert fact["origin"] == "author"
            fact["origin"] = "extracted"
    assert copied == snapshot(sessions, source)
    # Importing the same file again changes nothing.
    again = run_import(sessions, target, data, "json")
    assert again.created == [] and again.updated == [] and again.conflicts == []


def test_markdown_lists_entities_with_facts_in_chapter_order(
    sessions: sessionmaker[Session],
) -> None:
    book = new_book(sessions)
    build(sessions, book)
    with transaction(sessions) as s:
        text = portability.export_markdown(s, book.id).decode()
    assert "### Capitu" in text and "- Kind: character" in text
    assert text.index("> Capitu morava na Rua de Matacavalos.") < text.index(
        "> Capitu mudou-se para a Glória."
    )
    assert "Chapter 1, Um" in text and "Chapter 3, Três" in text


def test_sillytavern_world_info_is_imported_as_notes(sessions: sessionmaker[Session]) -> None:
    book = new_book(sessions)
    report = run_import(sessions, book, json.dumps(SILLYTAVERN).encode(), "sillytavern")
    assert [c["name"] for c in report.created] == ["Capitu", "Matacavalos"]
    with transaction(sessions) as s:
        page = service.list_entities(s, book.id)
        notes = notes_of_book(s, book.id)
    by_name = {e.name: e for e in page.items}
    assert by_name["Capitu"].aliases == ["Capitolina"] and by_name["Capitu"].origin == "author"
    assert by_name["Matacavalos"].kind == "place"
    assert by_name["Matacavalos"].aliases == ["Rua de Matacavalos"]
    assert [n.text for n in notes[by_name["Capitu"].id]] == ["Olhos de ressaca. Filha do Pádua."]
    assert by_name["Capitu"].facts == 0  # a note is not a quoted fact

    # Our SillyTavern export reads back.
    with transaction(sessions) as s:
        exported = json.loads(portability.export_sillytavern(s, book.id))
    entry = next(e for e in exported["entries"].values() if e["comment"] == "Capitu")
    assert entry["key"] == ["Capitu", "Capitolina"] and "ressaca" in entry["content"]
    assert portability.parse_sillytavern(json.dumps(exported).encode())[0].notes


def test_novelai_lorebook_is_imported(sessions: sessionmaker[Session]) -> None:
    book = new_book(sessions)
    report = run_import(sessions, book, json.dumps(NOVELAI).encode(), "novelai")
    assert [c["name"] for c in report.created] == ["Escobar", "Sancha"]
    with transaction(sessions) as s:
        page = service.list_entities(s, book.id, q="Escobar")
    assert page.items[0].aliases == ["Ezequiel de Sousa Escobar"]


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("json", b"{not json", "not valid JSON"),
        ("json", b'{"format": "other"}', "'format' must be"),
        (
            "json",
            b'{"format": "copiloto-bible", "version": 1, "entities": [{"name": "A"},'
            b' {"name": "B", "kind": "dragon"}]}',
            "entities[1].kind must be one of",
        ),
        (
            "json",
            b'{"format": "copiloto-bible", "version": 1, "entities": [{"name": "A", "facts":'
            b' [{"attribute": "x", "value": 3, "quote": "q"}]}]}',
            "entities[0].facts[0].value must be a string",
        ),
        ("sillytavern", b'{"entries": {"7": {"key": "Capitu"}}}', "entries['7'].key must be"),
        ("sillytavern", b'{"entries": {"7": {"content": "x"}}}', "entries['7'] has neither"),
        ("novelai", b'{"entries": {"a": 1}}', "'entries' must be a list"),
        ("novelai", b'{"entries": [{"keys": ["A"], "text": 5}]}', "entries[0].text must be"),
        ("novelai", b"", "the file is empty"),
    ],
)
def test_malformed_files_are_rejected_and_change_nothing(
    sessions: sessionmaker[Session], fmt: str, data: bytes, message: str
) -> None:
    book = new_book(sessions)
    with pytest.raises(InvalidInput) as raised:
        run_import(sessions, book, data, fmt)
    assert message in raised.value.message
    with transaction(sessions) as s:
        assert service.list_entities(s, book.id).total == 0


def test_conflicts_are_listed_and_the_authors_edits_kept(sessions: sessionmaker[Session]) -> None:
    book = new_book(sessions)
    with transaction(sessions) as s:
        made = service.create_entity(
            s, book.id, EntityCreate(kind="place", name="Capitu", aliases=["Capi"])
        )
    data = json.dumps(SILLYTAVERN).encode()
    preview = run_import(sessions, book, data, "sillytavern", dry_run=True)
    assert [c["field"] for c in preview.conflicts] == ["aliases"]
    assert preview.conflicts[0]["entity_id"] == made.id
    assert preview.conflicts[0]["incoming"] == ["Capitolina"]
    assert [c["name"] for c in preview.created] == ["Matacavalos"]
    report = run_import(sessions, book, data, "sillytavern")
    assert report.conflicts == preview.conflicts and report.created == preview.created
    with transaction(sessions) as s:
        kept = service.get_entity(s, book.id, made.id)
        notes = notes_of_book(s, book.id)
    assert kept.kind == "place" and kept.aliases == ["Capi"]
    assert made.id not in notes  # the conflicting entry did not touch it

    # Our own JSON: a different kind for an author-made entity is a conflict too.
    ours = {
        "format": "copiloto-bible",
        "version": 1,
        "entities": [{"name": "Capitu", "kind": "character", "aliases": ["Capi"]}],
    }
    report = run_import(sessions, book, json.dumps(ours).encode(), "json")
    assert [(c["field"], c["existing"], c["incoming"]) for c in report.conflicts] == [
        ("kind", "place", "character")
    ]


def test_a_file_over_the_upload_limit_is_refused(sessions: sessionmaker[Session]) -> None:
    book = new_book(sessions)
    data = json.dumps(SILLYTAVERN).encode()
    with transaction(sessions) as s, pytest.raises(PayloadTooLarge, match="MAX_UPLOAD_BYTES"):
        portability.import_bible(s, book.id, data, "sillytavern", dry_run=False, max_bytes=10)
    assert UPLOAD_PATH.match(f"/books/{book.id}/bible/import")  # the upload limit, not the body's
