"""Books and chapters through the real API: revisions, conflicts, limits and clear 4xx errors."""

from __future__ import annotations

import httpx

from tests.conftest import Stack


def test_book_crud_and_validation(api: httpx.Client) -> None:
    created = api.post("/books", json={"title": "Memórias", "language": "en", "synopsis": "s"})
    assert created.status_code == 201
    book = created.json()
    assert api.get(f"/books/{book['id']}").json()["title"] == "Memórias"
    assert book["id"] in [b["id"] for b in api.get("/books").json()]
    bad = api.post("/books", json={"title": "x", "language": "klingon"})
    assert bad.status_code == 422 and "language must be one of" in bad.text
    blank = api.post("/books", json={"title": "   "})
    assert blank.status_code == 422 and "title" in blank.text
    missing = api.get("/books/doesnotexist")
    assert (
        missing.status_code == 404 and missing.json()["detail"] == "book 'doesnotexist' not found"
    )


def test_save_overwrite_restore_keeps_every_revision(
    api: httpx.Client, stack: Stack, book: dict[str, str]
) -> None:
    saved = api.post(
        "/chapter/save", json={"book_id": book["id"], "title": "Um", "text": "primeira versão"}
    ).json()
    assert saved["revision"] == 1
    chapter_id = saved["chapter_id"]
    updated = api.put(
        "/chapter/update",
        json={
            "book_id": book["id"],
            "chapter_id": chapter_id,
            "text": "segunda versão do texto",
            "expected_revision": 1,
        },
    )
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    stale = api.put(
        "/chapter/update",
        json={"book_id": book["id"], "chapter_id": chapter_id, "text": "x", "expected_revision": 1},
    )
    assert stale.status_code == 409 and "revision 2" in stale.json()["detail"]
    detail = api.get(f"/chapters/{chapter_id}").json()
    assert detail["text"] == "segunda versão do texto"
    assert [r["number"] for r in detail["revisions"]] == [1, 2]
    first = api.get(f"/chapters/{chapter_id}/revisions/1").json()
    assert first["text"] == "primeira versão"
    restored = api.post(f"/chapters/{chapter_id}/restore", json={"revision": 1})
    assert restored.json()["revision"] == 3
    mirror = stack.data_dir / "chapters" / f"{book['id']}__{chapter_id}.md"
    assert mirror.read_text(encoding="utf-8") == "# Um\n\nprimeira versão\n"
    listed = api.get(f"/books/{book['id']}/chapters").json()
    assert [(c["id"], c["current_revision"]) for c in listed] == [(chapter_id, 3)]


def test_concurrent_overwrites_lose_no_text(api: httpx.Client, book: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    chapter_id = api.post(
        "/chapter/save", json={"book_id": book["id"], "title": "C", "text": "base"}
    ).json()["chapter_id"]
    texts = [f"versão {i}" for i in range(6)]

    def put(text: str) -> int:
        body = {"book_id": book["id"], "chapter_id": chapter_id, "text": text}
        return api.put("/chapter/update", json=body).status_code

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(put, texts)) == {200}
    revisions = api.get(f"/chapters/{chapter_id}").json()["revisions"]
    assert len(revisions) == 7
    stored = {
        api.get(f"/chapters/{chapter_id}/revisions/{r['number']}").json()["text"] for r in revisions
    }
    assert stored == {"base", *texts}


def test_bad_input_gets_4xx_with_a_message(
    api: httpx.Client, stack: Stack, book: dict[str, str]
) -> None:
    huge = "palavra " * (stack.settings.max_text_chars // 8 + 1)
    too_big = api.post("/chapter/save", json={"book_id": book["id"], "title": "T", "text": huge})
    assert too_big.status_code == 413 and "MAX_TEXT_CHARS" in too_big.json()["detail"]
    body_limit = stack.settings.max_body_bytes
    oversized = api.post(
        "/chapter/save",
        content=b"{" + b" " * (body_limit + 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert oversized.status_code == 413 and "MAX_BODY_BYTES" in oversized.json()["detail"]
    for bad_id in ("..%2F..%2Fetc", "A_B", "a__b%00", "x" * 80):
        response = api.get(f"/chapters/{bad_id}")
        assert response.status_code in (404, 422), (bad_id, response.status_code)
    traversal = api.post("/chapter/save", json={"book_id": "../../etc", "title": "T", "text": "x"})
    assert traversal.status_code == 422
    unknown_book = api.post("/chapter/save", json={"book_id": "nobook", "title": "T", "text": "x"})
    assert unknown_book.status_code == 404
    not_json = api.post("/books", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    files = {p.name for p in stack.data_dir.rglob("*") if p.is_file()}
    assert all(".." not in name and "etc" not in name for name in files)
