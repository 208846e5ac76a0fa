"""Real services for the whole test session: Redis, PostgreSQL, the LLM server, workers and the API.

Each is started once per session (the LLM server loads in about a second; workers and the API in
a few). Tests get their own Redis database number so a developer's running stack is untouched.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from services.launcher.cli import redis_server_binary
from services.launcher.processes import ProcessGroup, port_open, wait_until
from services.launcher.stack import Stack, free_port, start_chroma_server, start_llm_server
from services.launcher.stack import start_stack as launch_stack

__all__ = ["Stack", "free_port", "start_stack"]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Settings of a developer's shell must not leak into the services under test.
for _name in ("DATABASE_URL", "DATA_DIR", "API_TOKEN", "LLM_BASE_URL", "REDIS_URL", "CHROMA_HOST"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def logs_dir() -> Path:
    # One folder per session: sessions running side by side must not share log files.
    path = ARTIFACTS / "logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def redis_base(logs_dir: Path) -> Iterator[str]:
    """The machine's Redis on 6379, or a private redis-server when none listens there."""
    if port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379"
        return
    group = ProcessGroup(logs_dir)
    port = free_port()
    proc = group.start(
        "redis", [redis_server_binary(), "--port", str(port), "--save", "", "--appendonly", "no"]
    )
    wait_until(lambda: port_open("127.0.0.1", port), timeout=20, what="redis", proc=proc)
    yield f"redis://127.0.0.1:{port}"
    group.stop()


@pytest.fixture(scope="session")
def llm_url(logs_dir: Path) -> Iterator[str]:
    """The real llama.cpp server with the packaged SmolLM2 model, on a free port."""
    group = ProcessGroup(logs_dir)
    yield start_llm_server(group)
    group.stop()


@pytest.fixture(scope="session")
def chroma_server(
    tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[tuple[str, int]]:
    """A real Chroma server (the `chroma run` of the chromadb package), once per session."""
    group = ProcessGroup(logs_dir)
    yield start_chroma_server(group, tmp_path_factory.mktemp("chroma"))
    group.stop()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database (SQLAlchemy URL), dropped on exit."""
    name = f"copiloto_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


# Server mode: COPILOTO_TEST_DATABASE=postgres runs the shared stack on PostgreSQL (the
# production catalog) instead of SQLite; .ci/run runs the API and worker tests a second time so.
SERVER_MODE = os.environ.get("COPILOTO_TEST_DATABASE", "sqlite").strip().lower() == "postgres"


@pytest.fixture(scope="session")
def stack_database_url() -> Iterator[str | None]:
    """The shared stack's catalog: None (SQLite in its data folder), or in server mode a
    PostgreSQL database of its own (tests that migrate `postgres_url` up and down keep theirs)."""
    if not SERVER_MODE:
        yield None
        return
    with fresh_postgres_database() as url:
        yield url


_claimed_redis_dbs: list[tuple[str, int]] = []


def _claim_is_stale(owner: bytes | None) -> bool:
    """A claim left by a test session that no longer runs (killed before its cleanup)."""
    try:
        pid = int(owner or b"")
    except ValueError:
        return owner is None
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_redis_db(redis_base: str) -> str:
    """A Redis database no other test session uses right now (sessions may run side by side)."""
    import redis

    for db in range(15, 0, -1):
        client = redis.Redis.from_url(f"{redis_base}/{db}")
        claimed = client.set("copiloto:test-session", os.getpid(), nx=True, ex=3600)
        if not claimed and _claim_is_stale(client.get("copiloto:test-session")):
            claimed = True
        if claimed:
            client.flushdb()
            client.set("copiloto:test-session", os.getpid(), ex=3600)
            _claimed_redis_dbs.append((redis_base, db))
            return f"{redis_base}/{db}"
    raise RuntimeError("no free Redis database for the tests (all of 1..15 are claimed)")


def release_redis_db(url: str) -> None:
    """Give a stack's database back as soon as the stack stops: a session starts many stacks."""
    import redis

    base, _, db = url.rpartition("/")
    if (base, int(db)) in _claimed_redis_dbs:
        _claimed_redis_dbs.remove((base, int(db)))
        # A private Redis a test has stopped already has nothing left to give back.
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(url).flushdb()


def release_redis_dbs() -> None:
    import redis

    for base, db in _claimed_redis_dbs:
        redis.Redis.from_url(f"{base}/{db}").flushdb()
    _claimed_redis_dbs.clear()


def pytest_sessionfinish() -> None:
    release_redis_dbs()


def start_stack(
    tmp: Path,
    *,
    redis_base: str,
    llm_url: str,
    logs_dir: Path,
    chroma: tuple[str, int] | None = None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    with_worker: bool = True,
) -> Stack:
    """A stack with its own data folder, Redis database and Chroma collection.

    Its Redis database is released when the stack stops (or fails to start)."""
    redis_url = claim_redis_db(redis_base)
    try:
        running = launch_stack(
            tmp,
            redis_url=redis_url,
            llm_url=llm_url,
            log_dir=logs_dir / tmp.name,
            chroma=chroma,
            database_url=database_url,
            extra_env=extra_env,
            with_worker=with_worker,
        )
    except BaseException:
        release_redis_db(redis_url)
        raise
    stop = running.stop

    def stop_and_release() -> None:
        stop()
        release_redis_db(redis_url)

    running.stop = stop_and_release  # type: ignore[method-assign]
    return running


@pytest.fixture(scope="session")
def new_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    llm_url: str,
    logs_dir: Path,
    chroma_server: tuple[str, int],
) -> Callable[..., Stack]:
    """Starts a private stack (own catalog, Redis database and memory) on the session's LLM and
    Chroma server: `new_stack("name", extra_env=..., with_worker=..., llm_url=...)`. The caller
    stops it."""

    def make(name: str, **options: Any) -> Stack:
        return start_stack(
            tmp_path_factory.mktemp(name),
            redis_base=redis_base,
            logs_dir=logs_dir,
            chroma=chroma_server,
            **{"llm_url": llm_url, **options},
        )

    return make


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base: str,
    llm_url: str,
    logs_dir: Path,
    chroma_server: tuple[str, int],
    stack_database_url: str | None,
) -> Iterator[Stack]:
    """The shared stack: API, an `llm` and an `index` worker, Chroma server, the LLM; catalog on
    SQLite, or on PostgreSQL in server mode (COPILOTO_TEST_DATABASE=postgres)."""
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        redis_base=redis_base,
        llm_url=llm_url,
        logs_dir=logs_dir,
        chroma=chroma_server,
        database_url=stack_database_url,
    )
    try:
        with running.client() as client:
            wait_until(
                lambda: client.get("/ready").status_code == 200,
                timeout=60,
                what="stack readiness",
                proc=None,
            )
    except BaseException:
        # Workers left running would consume from the Redis database the next session claims.
        running.stop()
        raise
    yield running
    running.stop()


@pytest.fixture()
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture()
def book(api: httpx.Client) -> dict[str, str]:
    response = api.post("/books", json={"title": "O Mar", "language": "pt-BR", "genre": "drama"})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture()
def chapter(api: httpx.Client, book: dict[str, str]) -> dict[str, object]:
    response = api.post(
        "/chapter/save",
        json={
            "book_id": book["id"],
            "title": "A partida",
            "text": "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa.",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def pytest_report_header() -> str:
    catalog = "PostgreSQL (server mode)" if SERVER_MODE else "SQLite"
    return (
        f"copiloto tests: python {sys.version.split()[0]}, postgres {POSTGRES_ADMIN_URL}, "
        f"shared stack catalog: {catalog}"
    )
