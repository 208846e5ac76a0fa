"""The same round trip with the catalog on PostgreSQL, as in production."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import create_engine, text

from services.api.sse import parse_events
from tests.conftest import Stack
from tests.job_client import assert_ask_cites


def test_suggest_round_trip_on_postgres(postgres_url: str, new_stack: Callable[..., Stack]) -> None:
    from services.core.migrate import downgrade

    downgrade(postgres_url)  # the catalog tests may have left tables behind
    stack = new_stack("pgstack", database_url=postgres_url)
    try:
        with stack.client() as client:
            book = client.post("/books", json={"title": "Pride", "language": "en"}).json()
            saved = client.post(
                "/chapter/save",
                json={"book_id": book["id"], "title": "Netherfield", "text": "Jane was ill."},
            ).json()
            started = time.monotonic()
            job = client.post(
                "/jobs",
                json={
                    "kind": "suggest",
                    "book_id": book["id"],
                    "chapter_id": saved["chapter_id"],
                    "params": {"max_tokens": 32},
                },
            ).json()
            with client.stream("GET", f"/jobs/{job['id']}/events") as response:
                events = list(parse_events(response.iter_lines()))
            assert events[-1].data["status"] == "succeeded", events[-1].data
            assert any(e.event == "delta" for e in events)
            assert time.monotonic() - started < 60
            # Memory on the same catalog: the save queued indexing; ask cites the chapter.
            assert_ask_cites(client, saved, "Who was ill?")
        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            status = conn.execute(
                text("SELECT status FROM job WHERE id = :id"), {"id": job["id"]}
            ).scalar_one()
            artifacts = conn.execute(
                text("SELECT count(*) FROM artifact WHERE job_id = :id"), {"id": job["id"]}
            ).scalar_one()
        engine.dispose()
        assert (status, artifacts) == ("succeeded", 1)
    finally:
        stack.stop()
