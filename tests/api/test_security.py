"""No way in for strangers: the token on every route, loopback without one, CORS without
credentials, destructive calls confirmed and logged, a rate limit on job submission, and a UI
that shows neither tracebacks (production) nor the token."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.core.config import Settings
from services.launcher.cli import api_argv, ui_argv
from tests.conftest import Stack

TOKEN = "s3cure-test-token-0123456789"


@pytest.fixture()
def secured(stack: Stack) -> Iterator[tuple[str, Path]]:
    """A second API over the shared stack with API_TOKEN set; yields its URL and log file."""
    name = f"api-secure-{time.monotonic_ns()}"
    url = stack.start_api(name, API_TOKEN=TOKEN, RATE_LIMIT_JOBS_PER_MINUTE="60")
    yield url, stack.group.log_dir / f"{name}.log"
    _stop(stack, name)


def _routes(client: httpx.Client) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, methods in paths.items()
        for method in methods
    ]


def test_every_route_but_health_needs_the_token(secured: tuple[str, Path]) -> None:
    url, _ = secured
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/health").status_code == 200
        routes = _routes(client)
        assert len(routes) > 30
        for method, path in routes:
            if path == "/health":
                continue
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                response = client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text[:200])
                assert "API token" in response.json()["detail"]
                assert response.headers["www-authenticate"] == "Bearer"


def test_without_a_token_the_api_binds_to_loopback_and_says_so(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    open_settings = Settings(_env_file=None, API_HOST="0.0.0.0")  # type: ignore[call-arg]
    argv = api_argv(open_settings)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "API_TOKEN is not set" in capsys.readouterr().err
    guarded = Settings(_env_file=None, API_HOST="0.0.0.0", API_TOKEN=TOKEN)  # type: ignore[call-arg]
    argv = api_argv(guarded)
    assert argv[argv.index("--host") + 1] == "0.0.0.0"

    # The real process: asked for 0.0.0.0 without a token, it answers on loopback only.
    url = stack.start_api("api-open", API_HOST="0.0.0.0")
    try:
        port = int(url.rsplit(":", 1)[1])
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        log = (stack.group.log_dir / "api-open.log").read_text()
        assert "API_TOKEN is not set" in log and "loopback" in log
        outside_ip = _non_loopback_ip()
        if outside_ip is not None:
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((outside_ip, port)) != 0, "reachable from outside loopback"
    finally:
        _stop(stack, "api-open")


def _stop(stack: Stack, name: str) -> None:
    proc = next(p for n, p in stack.group.children if n == name)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            ip = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_cors_allows_only_listed_origins_and_never_credentials(api: httpx.Client) -> None:
    allowed = "http://127.0.0.1:8501"
    preflight = {"Access-Control-Request-Method": "POST", "Origin": allowed}
    response = api.options("/books", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == allowed
    assert "access-control-allow-credentials" not in response.headers
    evil = api.options("/books", headers={**preflight, "Origin": "https://evil.example"})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    simple = api.get("/books", headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
    simple = api.get("/books", headers={"Origin": allowed})
    assert simple.headers["access-control-allow-origin"] == allowed
    assert simple.headers.get("access-control-allow-origin") != "*"


def test_destructive_calls_need_the_token_a_confirmation_and_are_logged(
    secured: tuple[str, Path],
) -> None:
    url, log_file = secured
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        book = client.post("/books", json={"title": "Apagar"}, headers=auth).json()["id"]
        assert client.delete(f"/chroma/book/{book}", params={"confirm": book}).status_code == 401
        assert (
            client.delete("/chroma/clear", params={"confirm": "DELETE-ALL-MEMORY"}).status_code
            == 401
        )
        for confirm in ({}, {"confirm": "yes"}, {"confirm": book.upper()}):
            refused = client.delete(f"/chroma/book/{book}", params=confirm, headers=auth)
            assert refused.status_code == 422 and refused.json()["detail"], refused.text
        for confirm in ({}, {"confirm": "yes"}, {"confirm": "delete-all-memory"}):
            refused = client.delete("/chroma/clear", params=confirm, headers=auth)
            assert refused.status_code == 422 and refused.json()["detail"], refused.text
        done = client.delete(f"/chroma/book/{book}", params={"confirm": book}, headers=auth)
        assert done.status_code == 200, done.text
    assert f"memory of book {book} deleted" in log_file.read_text()


def test_job_submissions_are_rate_limited_per_client(secured: tuple[str, Path]) -> None:
    url, _ = secured
    auth = {"Authorization": f"Bearer {TOKEN}"}
    job = {"kind": "suggest", "book_id": "no-such-book", "chapter_id": "nope"}
    with httpx.Client(base_url=url, timeout=30, headers=auth) as client:
        started = time.monotonic()
        statuses = [client.post("/jobs", json=job).status_code for _ in range(60)]
        assert set(statuses) == {404}, "a minute's allowance (60) goes through"
        # The bucket refills one token a second while the burst runs (seconds on a busy
        # machine): past the allowance, only those refills may still go through.
        extra = 0
        limited = client.post("/jobs", json=job)
        while limited.status_code == 404:
            extra += 1
            assert extra <= time.monotonic() - started + 1, "more than the refill went through"
            limited = client.post("/jobs", json=job)
        assert limited.status_code == 429, limited.text
        assert "RATE_LIMIT_JOBS_PER_MINUTE" in limited.json()["detail"]
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 2
        shim = client.post("/ask", json={"book_id": "no-such-book", "question": "Quem?"})
        assert shim.status_code == 429, "the writing shims share the bucket"
        reindex = client.post("/books/no-such-book/reindex")
        assert reindex.status_code == 429
        assert client.get("/jobs").status_code == 200, "reads are not limited"
        time.sleep(retry_after + 0.2)
        assert client.post("/jobs", json=job).status_code == 404, "the bucket refills"


def test_streamlit_hides_tracebacks_in_production() -> None:
    dev = ui_argv(Settings(_env_file=None))  # type: ignore[call-arg]
    assert dev[dev.index("--client.showErrorDetails") + 1] == "full"
    prod = ui_argv(
        Settings(_env_file=None, ENV="production", API_TOKEN=TOKEN)  # type: ignore[call-arg]
    )
    assert prod[prod.index("--client.showErrorDetails") + 1] == "none"


def test_the_ui_never_renders_the_token(
    secured: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    url, _ = secured
    monkeypatch.setenv("API_URL", url)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    app_file = Path(__file__).resolve().parents[2] / "services" / "ui" / "app.py"
    app = AppTest.from_file(str(app_file), default_timeout=60).run()
    assert not app.exception, app.exception
    pages = app.sidebar.radio(key="page").options
    for page in pages:
        app.sidebar.radio(key="page").set_value(page).run()
        assert not app.exception, (page, app.exception)
        rendered = repr(app._tree)
        assert TOKEN not in rendered, f"the token shows on the {page} page"
        assert "401" not in rendered, f"the UI did not authenticate on the {page} page"
