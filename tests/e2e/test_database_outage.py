"""The catalog database goes away for a while (PostgreSQL refusing connections, its sessions
killed): requests answer 503 with a clear message, nothing is half-written, and everything works
again once it is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL, Stack, start_stack


class Database:
    def __init__(self) -> None:
        self.name = f"copiloto_outage_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg://"
        )
        self.url = f"{base}/{self.name}"

    def _admin(self, *statements: str) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    def go_away(self) -> None:
        """No new connection (superusers included), and every open one killed."""
        self._admin(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    def come_back(self) -> None:
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture()
def pg_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    llm_url: str,
    logs_dir: Path,
) -> Iterator[tuple[Stack, Database]]:
    database = Database()
    stack = start_stack(
        tmp_path_factory.mktemp("dboutage"),
        redis_base=redis_base,
        llm_url=llm_url,
        logs_dir=logs_dir,
        database_url=database.url,
    )
    try:
        yield stack, database
    finally:
        stack.stop()
        database.come_back()
        database.drop()


def test_database_outage_is_503_and_leaves_nothing_half_written(
    pg_stack: tuple[Stack, Database],
) -> None:
    stack, database = pg_stack
    with stack.client() as api:
        book = api.post("/books", json={"title": "Apagão"}).json()["id"]
        saved = api.post(
            "/chapter/save", json={"book_id": book, "title": "Antes", "text": "Primeira versão."}
        ).json()
        chapter = saved["chapter_id"]
        files_before = sorted(p.name for p in stack.settings.chapters_dir.iterdir())
        mirror = stack.settings.chapters_dir / saved["file"]
        mirrored = mirror.read_text()

        database.go_away()
        attempts: list[httpx.Response] = []
        started = time.monotonic()
        attempts.append(api.get("/books"))
        attempts.append(api.get(f"/chapters/{chapter}"))
        attempts.append(
            api.post("/chapter/save", json={"book_id": book, "title": "Durante", "text": "Nova."})
        )
        attempts.append(
            api.put(
                "/chapter/update",
                json={"book_id": book, "chapter_id": chapter, "text": "Texto perdido?"},
            )
        )
        attempts.append(
            api.post("/jobs", json={"kind": "suggest", "book_id": book, "chapter_id": chapter})
        )
        attempts.append(api.get("/jobs"))
        elapsed = time.monotonic() - started
        for response in attempts:
            assert response.status_code == 503, (response.request.url, response.text[:300])
            assert "catalog database is unavailable" in response.json()["detail"]
        assert elapsed < 10, f"failing requests took {elapsed:.1f}s"
        ready = api.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["state"] == "down"

        database.come_back()
        deadline = time.monotonic() + 30
        while api.get("/books").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover from the outage"
            time.sleep(0.2)

        # Nothing half-written: no chapter, revision, job or file from the refused requests.
        chapters = api.get(f"/books/{book}/chapters").json()
        assert [c["title"] for c in chapters] == ["Antes"]
        detail = api.get(f"/chapters/{chapter}").json()
        assert detail["text"] == "Primeira versão." and len(detail["revisions"]) == 1
        assert sorted(p.name for p in stack.settings.chapters_dir.iterdir()) == files_before
        assert mirror.read_text() == mirrored
        kinds = [j["kind"] for j in api.get("/jobs", params={"book_id": book}).json()["items"]]
        # Only the first save's indexing job exists (with the bible's follow-up, once the
        # indexing has run).
        assert sorted(kinds) in (["index_chapter"], ["extract_facts", "index_chapter"]), kinds

        # And it all works again.
        again = api.put(
            "/chapter/update", json={"book_id": book, "chapter_id": chapter, "text": "Depois."}
        )
        assert again.status_code == 200, again.text
        assert again.json()["revision"] == 2
