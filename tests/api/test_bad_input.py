"""Hostile input on every id-bearing route and body: a 4xx with a message, never a 500, and no
file ever written outside DATA_DIR (checked on the file tree around it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.job_client import succeeded

# Raw path segments (sent as typed) and JSON/query values that must never be accepted as ids.
BAD_PATH_IDS = [
    "..",
    "..%2F..%2Fetc",
    "%2e%2e%2f%2e%2e%2fescape",
    "a__b",
    "A_B",
    "%2Fetc%2Fpasswd",
    "%00",
    "a%00b",
    "x" * 300,
    "~root",
    "a%20b",
    "%E2%80%AE",
]
BAD_BODY_IDS = [
    "../../etc",
    "..",
    "a__b",
    "/etc/passwd",
    "C:\\Windows",
    "a\x00b",
    "x" * 300,
    "",
    "UPPER",
    "a/b",
]
ID_ROUTES = [
    ("GET", "/books/{id}"),
    ("GET", "/books/{id}/chapters"),
    ("GET", "/books/{id}/export"),
    ("POST", "/books/{id}/reindex"),
    ("GET", "/chapters/{id}"),
    ("GET", "/chapters/{id}/revisions/1"),
    ("POST", "/chapters/{id}/restore"),
    ("GET", "/jobs/{id}"),
    ("GET", "/jobs/{id}/events"),
    ("POST", "/jobs/{id}/cancel"),
    ("GET", "/artifacts/{id}"),
    ("GET", "/chroma/collection/{id}"),
    ("DELETE", "/chroma/book/{id}"),
    ("GET", "/metadata/book/{id}"),
]
# Every JSON body field that holds an id, with a body that is otherwise valid.
BODY_ID_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/chapter/save", {"title": "T", "text": "x"}, "book_id"),
    ("PUT", "/chapter/update", {"chapter_id": "abc", "text": "x"}, "book_id"),
    ("PUT", "/chapter/update", {"book_id": "abc", "text": "x"}, "chapter_id"),
    ("POST", "/jobs", {"kind": "suggest", "chapter_id": "abc"}, "book_id"),
    ("POST", "/jobs", {"kind": "suggest", "book_id": "abc"}, "chapter_id"),
    ("POST", "/suggest", {"chapter_id": "abc"}, "book_id"),
    ("POST", "/critique", {"book_id": "abc"}, "chapter_id"),
    ("POST", "/ask", {"question": "Quem?"}, "book_id"),
    ("POST", "/ideate", {}, "book_id"),
    ("POST", "/expand", {"idea": "Uma ideia"}, "book_id"),
    ("POST", "/metadata/extract", {"book_id": "abc"}, "chapter_id"),
    ("POST", "/chroma/vectorize-existing", {}, "book_id"),
]
JSON_ROUTES = [
    ("POST", "/books"),
    ("POST", "/chapter/save"),
    ("PUT", "/chapter/update"),
    ("POST", "/jobs"),
    ("POST", "/suggest"),
    ("POST", "/ask"),
    ("POST", "/chroma/vectorize-existing"),
    ("POST", "/test-llm"),
]


def file_tree(root: Path, skip: Path) -> set[str]:
    """Every path under `root` except those under `skip` (DATA_DIR)."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == skip:
            dirnames.clear()
            continue
        found.update(str(here / name) for name in (*dirnames, *filenames))
    return found


def assert_4xx_with_message(response: httpx.Response, what: object) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert detail, (what, response.text[:300])


@pytest.fixture()
def outside(stack: Stack) -> Any:
    """Asserts, after the test, that nothing appeared next to DATA_DIR or in / and /tmp."""
    data_dir = stack.data_dir.resolve()
    watched = [(data_dir.parent, data_dir)]
    before = [file_tree(root, skip) for root, skip in watched]
    tops = {p: set(os.listdir(p)) for p in ("/", "/tmp", "/etc")}
    yield
    after = [file_tree(root, skip) for root, skip in watched]
    assert after == before, "a file appeared outside DATA_DIR"
    for path, names in tops.items():
        new = set(os.listdir(path)) - names
        assert not {n for n in new if "escape" in n or "passwd" in n or "evil" in n}, new


def test_bad_ids_in_paths_are_4xx(api: httpx.Client, outside: None) -> None:
    for method, route in ID_ROUTES:
        for bad in BAD_PATH_IDS:
            url = route.replace("{id}", bad)
            body = {"revision": 1} if "restore" in route else None
            response = api.request(method, url, json=body, params={"confirm": bad})
            assert_4xx_with_message(response, (method, url))


def test_bad_ids_in_bodies_and_queries_are_422_naming_the_field(
    api: httpx.Client, outside: None
) -> None:
    for method, route, body, field in BODY_ID_CASES:
        for bad in BAD_BODY_IDS:
            response = api.request(method, route, json={**body, field: bad})
            assert response.status_code == 422, (route, field, bad, response.text[:300])
            assert field in response.text, (route, field, response.text[:300])
    for route in ("/jobs", "/artifacts"):
        for bad in ("../x", "a__b", "a\x00b", "x" * 300):
            response = api.get(route, params={"book_id": bad})
            assert response.status_code == 422, (route, bad, response.text[:300])
            assert "book_id" in response.text


def test_invalid_utf8_and_malformed_json_bodies_are_4xx(api: httpx.Client, outside: None) -> None:
    bodies = [
        b"\xff\xfe",
        b'{"title": "\xff\xfe caf\xe9"}',
        b'{"book_id": "abc", "title": "T", "text": "\xc3\x28"}',
        b"{",
        b"[]",
        b"null",
        b'"text"',
        b'{"title": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ]
    optional_body = {"/chroma/vectorize-existing", "/test-llm"}
    for method, route in JSON_ROUTES:
        for body in bodies:
            if body == b"null" and route in optional_body:
                continue  # JSON null is "no body": the defaults apply
            response = api.request(
                method, route, content=body, headers={"content-type": "application/json"}
            )
            assert_4xx_with_message(response, (route, body[:20]))


def test_wrong_content_types_are_4xx(api: httpx.Client, outside: None) -> None:
    payload = b'{"title": "Livro", "language": "pt-BR"}'
    for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        response = api.post("/books", content=payload, headers={"content-type": content_type})
        assert_4xx_with_message(response, content_type)
    book = api.post("/books", json={"title": "Tipos"}).json()
    as_json = api.post(f"/books/{book['id']}/import", json={"file": "Capitulo 1\n\nTexto"})
    assert_4xx_with_message(as_json, "json to the upload")
    garbage_multipart = api.post(
        f"/books/{book['id']}/import",
        content=b"--x\r\nnot really\r\n",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert_4xx_with_message(garbage_multipart, "broken multipart")


def test_huge_bodies_and_texts_are_413(api: httpx.Client, stack: Stack, outside: None) -> None:
    limit = stack.settings.max_body_bytes
    for method, route in JSON_ROUTES:
        response = api.request(
            method,
            route,
            content=b'{"x": "' + b"a" * (limit + 1) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413, (route, response.status_code)
        assert "MAX_BODY_BYTES" in response.json()["detail"]

    def chunks() -> Any:  # no Content-Length: the limit must hold on a streamed body too
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536

    streamed = api.post("/books", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "MAX_BODY_BYTES" in streamed.json()["detail"]


def test_hostile_upload_names_stay_inside_data_dir(
    api: httpx.Client, stack: Stack, outside: None
) -> None:
    book = api.post("/books", json={"title": "Nomes", "language": "en"}).json()["id"]
    names = [
        "../../../escape.md",
        "/tmp/evil-absolute.md",
        "..\\..\\escape-win.md",
        "a\x00b.md",
        "x" * 5000 + ".md",
        "../passwd.txt",
    ]
    for n, name in enumerate(names):
        text = f"Chapter 1\n\nA line of text number {n}.\n".encode()
        response = api.post(
            f"/books/{book}/import",
            params={"dry_run": "true"},
            files={"file": (name, text, "text/plain")},
        )
        # 200: the name was only used for display; 4xx: refused with a message.
        assert response.status_code in (200, 400, 415, 422), (name[:40], response.text[:300])
        assert response.json()
        assert "/" not in str(response.json().get("filename", "")), response.text[:300]
    real = api.post(
        f"/books/{book}/import",
        params={"reindex": "false"},
        files={"file": ("../../../escape.md", b"# Chapter 1\n\nKept inside.\n", "text/plain")},
    )
    assert real.status_code == 202, real.text[:300]
    assert succeeded(api, real.json()["id"])["status"] == "succeeded"
    assert [c["title"] for c in api.get(f"/books/{book}/chapters").json()] == ["Chapter 1"]
    assert not [p for p in stack.data_dir.rglob("*escape*")], "the name never becomes a path"
    bad_utf8 = api.post(
        f"/books/{book}/import",
        params={"dry_run": "true"},
        files={"file": ("latin.txt", "Capítulo 1\n\nCoração.".encode("cp1252"), "text/plain")},
    )
    assert bad_utf8.status_code in (200, 422), bad_utf8.text[:300]
    assert bad_utf8.json()
