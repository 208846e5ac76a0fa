"""The UI client's TypedDicts against the API's OpenAPI schema, built from the app in-process.

The UI copies the API's answers as TypedDicts (it imports nothing from the server); this test is
what keeps the two in step: a field renamed, removed, retyped or made optional on either side
fails here. For the answers the UI reads as a whole the match is exact; where the UI reads a
job out of a bigger answer (an import also carries its preview) the TypedDict's fields must be
in the answer, with the same types.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from services.api.app import create_app
from services.core.config import Settings
from services.ui import api_client as ui

# (TypedDict, method, path, status, exact): the answer the UI reads as that TypedDict.
CONTRACT: list[tuple[Any, str, str, str, bool]] = [
    (ui.Readiness, "get", "/ready", "200", True),
    (ui.ContinuityPage, "get", "/books/{book_id}/continuity/findings", "200", True),
    (
        ui.ContinuityFinding,
        "patch",
        "/books/{book_id}/continuity/findings/{finding_id}",
        "200",
        True,
    ),
    (ui.Book, "get", "/books/{book_id}", "200", True),
    (ui.Book, "post", "/books", "201", True),
    (list[ui.Book], "get", "/books", "200", True),
    (list[ui.Chapter], "get", "/books/{book_id}/chapters", "200", True),
    (ui.ChapterDetail, "get", "/chapters/{chapter_id}", "200", True),
    (ui.Revision, "get", "/chapters/{chapter_id}/revisions/{number}", "200", True),
    (ui.ChapterSaved, "post", "/chapter/save", "201", True),
    (ui.ChapterSaved, "put", "/chapter/update", "200", True),
    (ui.ChapterSaved, "post", "/chapters/{chapter_id}/restore", "200", True),
    (ui.Job, "post", "/jobs", "202", True),
    (ui.Job, "get", "/jobs/{job_id}", "200", True),
    (ui.Job, "post", "/jobs/{job_id}/cancel", "200", True),
    (ui.JobPage, "get", "/jobs", "200", True),
    (list[ui.Artifact], "get", "/artifacts", "200", True),
    (ui.ManuscriptPreview, "post", "/books/{book_id}/import", "200", True),
    (ui.Job, "post", "/books/{book_id}/import", "202", False),
    (ui.Job, "post", "/books/{book_id}/reindex", "202", False),
    (ui.BibleEntityPage, "get", "/books/{book_id}/bible/entities", "200", True),
    (ui.BibleEntityDetail, "get", "/books/{book_id}/bible/entities/{entity_id}", "200", True),
    (ui.BibleEntityDetail, "patch", "/books/{book_id}/bible/entities/{entity_id}", "200", True),
    (
        ui.BibleEntityDetail,
        "post",
        "/books/{book_id}/bible/entities/{entity_id}/merge",
        "200",
        True,
    ),
    (ui.BibleFact, "patch", "/books/{book_id}/bible/facts/{fact_id}", "200", True),
    (ui.BibleNotes, "get", "/books/{book_id}/bible/entities/{entity_id}/notes", "200", True),
    (ui.Presence, "get", "/books/{book_id}/bible/presence", "200", True),
    (ui.BibleImportReport, "post", "/books/{book_id}/bible/import", "200", True),
    (ui.MemoryStatus, "get", "/chroma/status", "200", True),
    (list[ui.Collection], "get", "/chroma/collections", "200", True),
    (ui.DocumentPage, "get", "/chroma/collection/{name}", "200", True),
    (ui.BookCleared, "delete", "/chroma/book/{book_id}", "200", True),
    (ui.Cleared, "delete", "/chroma/clear", "200", True),
]

JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
# Answers that are streams, not one JSON document (its events are checked in tests/api).
STREAMS = {"GET /jobs/{job_id}/events"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    # Building the schema starts nothing: the app's resources are made in its lifespan.
    return create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]


class Mismatch(AssertionError):
    pass


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _variants(schema: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return [v for s in schema["anyOf"] for v in _variants(s, spec)]
    return [schema]


def _python_variants(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [v for a in get_args(annotation) for v in _python_variants(a)]
    return [annotation]


def check(annotation: Any, schema: dict[str, Any], spec: dict[str, Any], where: str, exact: bool):
    """Raise `Mismatch` unless the Python type describes the JSON schema."""
    py = _python_variants(annotation)
    js = _variants(schema, spec)
    if Any in py:
        return
    py_null, js_null = type(None) in py, any(s.get("type") == "null" for s in js)
    if py_null != js_null:
        raise Mismatch(f"{where}: the UI says nullable={py_null}, the API nullable={js_null}")
    py = [p for p in py if p is not type(None)]
    js = [s for s in js if s.get("type") != "null"]
    if len(py) != 1 or len(js) != 1:
        raise Mismatch(f"{where}: unions differ ({py} vs {js})")
    _check_one(py[0], js[0], spec, where, exact)


def _check_one(py: Any, js: dict[str, Any], spec: dict[str, Any], where: str, exact: bool):
    origin = get_origin(py)
    if is_typeddict(py):
        _check_object(py, js, spec, where, exact)
    elif origin is list:
        if js.get("type") != "array":
            raise Mismatch(f"{where}: the UI reads a list, the API sends {js.get('type')}")
        check(get_args(py)[0], js["items"], spec, f"{where}[]", exact)
    elif origin is dict or py is dict:
        if js.get("type") != "object":
            raise Mismatch(f"{where}: the UI reads an object, the API sends {js.get('type')}")
        value = get_args(py)[1] if get_args(py) else Any
        extra = js.get("additionalProperties", True)
        if value is not Any and isinstance(extra, dict):
            check(value, extra, spec, f"{where}{{}}", exact)
    elif origin is Literal:
        if js.get("type") != "string":
            raise Mismatch(f"{where}: the UI reads one of {get_args(py)}, the API a {js}")
        if "enum" in js and set(js["enum"]) != set(get_args(py)):
            raise Mismatch(f"{where}: the UI knows {get_args(py)}, the API sends {js['enum']}")
    elif py in JSON_TYPES:
        sent = js.get("type")
        if sent != JSON_TYPES[py] and not (py is float and sent == "integer"):
            raise Mismatch(f"{where}: the UI reads {py.__name__}, the API sends {sent}")
    else:  # pragma: no cover - a new kind of annotation in the client
        raise Mismatch(f"{where}: no rule for {py!r}")


def _check_object(td: Any, js: dict[str, Any], spec: dict[str, Any], where: str, exact: bool):
    if js.get("type") != "object" or "properties" not in js:
        raise Mismatch(f"{where}: the UI reads {td.__name__}, the API sends {js}")
    # Presence is not compared with the schema's `required`: a response model always sends every
    # field (FastAPI marks those with a default as optional all the same); optional values are
    # nullable, and nullability is compared.
    props = js["properties"]
    hints = get_type_hints(td)
    missing = hints.keys() - props.keys()
    if missing:
        raise Mismatch(f"{where}: the API does not send {sorted(missing)} ({td.__name__})")
    if exact and (unread := props.keys() - hints.keys()):
        raise Mismatch(f"{where}: {td.__name__} lacks the API's fields {sorted(unread)}")
    for name, annotation in hints.items():
        check(annotation, props[name], spec, f"{where}.{name}", exact)


@pytest.mark.parametrize(
    ("typed", "method", "path", "status", "exact"),
    CONTRACT,
    ids=[f"{m.upper()} {p} {s}" for _, m, p, s, _ in CONTRACT],
)
def test_ui_types_match_the_api(
    openapi: dict[str, Any], typed: Any, method: str, path: str, status: str, exact: bool
) -> None:
    operation = openapi["paths"][path][method]
    assert status in operation["responses"], f"{method} {path} documents no {status}"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    check(typed, schema, openapi, f"{method.upper()} {path}", exact)


def test_every_json_answer_has_a_schema(openapi: dict[str, Any]) -> None:
    """Each success answer in JSON is described (no bare `dict[str, Any]`)."""
    untyped = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                body = response.get("content", {}).get("application/json")
                if not status.startswith("2") or body is None:
                    continue
                if f"{method.upper()} {path}" in STREAMS:
                    continue
                schema = _resolve(body["schema"], openapi)
                while schema.get("type") == "array":
                    schema = _resolve(schema["items"], openapi)
                if "properties" not in schema:
                    untyped.append(f"{method.upper()} {path} {status}")
    assert not untyped, f"answers without a response model: {untyped}"


def test_the_checker_catches_a_difference(openapi: dict[str, Any]) -> None:
    """A field the API does not send, or a wrong type, is caught (the test can fail)."""

    class Renamed(ui.Book):
        subtitle: str

    schema = openapi["paths"]["/books/{book_id}"]["get"]["responses"]["200"]["content"]
    with pytest.raises(Mismatch, match="subtitle"):
        check(Renamed, schema["application/json"]["schema"], openapi, "book", True)
    with pytest.raises(Mismatch, match="does not send"):
        check(ui.Chapter, {"$ref": "#/components/schemas/BookOut"}, openapi, "book", False)


def test_the_ui_reads_what_the_api_writes_as_events() -> None:
    """The UI's own SSE reader against the API's writer."""
    from services.api.sse import format_event
    from services.ui.sse import parse_events

    data = {"progress": 0.5, "text": "Olá\nmundo"}
    wire = format_event("progress", data, "7-0") + ": keep-alive\n\n" + format_event("final", {})
    events = list(parse_events(wire.splitlines(), comments=True))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("progress", data, "7-0"),
        ("comment", {"text": "keep-alive"}, None),
        ("final", {}, None),
    ]
