"""The spine in a real browser: a new author creates a book, writes a chapter and gets suggestions.

Drives Debian's chromium (never `playwright install`) against the Streamlit page started on a free
port over the session's real stack (API, worker, LLM). Each step leaves a screenshot in
test-artifacts/screenshots/ so a failure can be looked at.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.core.config import Settings
from services.launcher.cli import ui_argv
from services.launcher.processes import http_ok, wait_until
from services.launcher.stack import free_port
from services.ui.i18n import LABELS
from tests.conftest import ARTIFACTS, Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
PT = LABELS["pt-BR"]
EN = LABELS["en"]
# Streamlit draws asynchronously and the machine may be busy: waits are generous.
UI_TIMEOUT_MS = 60_000
JOB_TIMEOUT_S = 180.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def ui_url(stack: Stack) -> Iterator[str]:
    """The Streamlit page, as `copiloto up` starts it, talking to the session's API."""
    port = free_port()
    env = {**stack.env, "API_URL": stack.api_url, "UI_PORT": str(port)}
    argv = ui_argv(Settings(_env_file=None, UI_PORT=port, API_URL=stack.api_url))
    proc = stack.group.start("ui-browser", argv, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_ok(f"{url}/_stcore/health"), timeout=60, what="streamlit", proc=proc
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def contains_words(haystack: str, needle: list[str]) -> bool:
    """Whether `needle` occurs as consecutive words of `haystack` (markdown markup ignored)."""
    hay = words(haystack)
    return any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def test_new_author_writes_a_chapter_and_gets_suggestions(
    stack: Stack, ui_url: str, page: Any
) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    title = f"Livro {uuid.uuid4().hex[:8]}"
    chapter_title = "A partida"
    chapter_text = (
        "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa. "
        "O vento trazia o cheiro de sal e de despedida."
    )

    # 1. The page opens with every service up.
    page.goto(ui_url)
    sidebar = page.get_by_test_id("stSidebar")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=PT["app_title"])).to_be_visible()
    expect(sidebar.get_by_text(f"{PT['service_llm']}: {PT['state_up']}")).to_be_visible()
    shot(page, "01-home")

    # 2. A book from the sidebar form; the page switches to it.
    title_input = sidebar.get_by_label(PT["book_title"], exact=True)
    if not title_input.is_visible():  # the form is folded away once there are books
        sidebar.get_by_text(PT["new_book"], exact=True).click()
    title_input.fill(title)
    sidebar.get_by_label(PT["book_genre"], exact=True).fill("drama")
    sidebar.get_by_role("button", name=PT["create_book"]).click()
    expect(sidebar.get_by_text(PT["book_created"].format(title=title))).to_be_visible()
    expect(main.get_by_role("heading", name=title)).to_be_visible()
    expect(main.get_by_text(PT["no_chapters"]).first).to_be_visible()
    with stack.client() as api:
        books = [b for b in api.get("/books", params={"limit": 500}).json() if b["title"] == title]
    assert len(books) == 1, books
    book_id = books[0]["id"]
    shot(page, "02-book")

    # 3. A chapter written in the editor and saved.
    main.get_by_label(PT["chapter_title"], exact=True).fill(chapter_title)
    main.get_by_label(PT["chapter_text"], exact=True).fill(chapter_text)
    main.get_by_role("button", name=PT["save_chapter"]).click()
    saved = PT["chapter_saved"].format(
        title=chapter_title, revision=1, words=len(chapter_text.split())
    )
    expect(main.get_by_text(saved)).to_be_visible()
    expect(main.get_by_text(PT["suggest_for"].format(title=chapter_title))).to_be_visible()
    expect(main.get_by_role("combobox", name=PT["chapter"], exact=True)).to_have_value(
        re.compile(rf"^1\. {chapter_title} \(rev\. 1,")
    )
    with stack.client() as api:
        chapters = api.get(f"/books/{book_id}/chapters").json()
    assert [(c["title"], c["current_revision"]) for c in chapters] == [(chapter_title, 1)]
    shot(page, "03-chapter-saved")

    # 4. Suggestions with a short answer; the bar fills and the text streams in.
    max_tokens = main.get_by_label(PT["max_tokens"], exact=True)
    max_tokens.fill("96")
    max_tokens.press("Enter")
    page.wait_for_timeout(1000)  # the page reruns with the new value before the click
    main.get_by_role("button", name=PT["generate"]).click()

    bar = main.get_by_role("progressbar").first
    ready = main.get_by_text(PT["suggestions_ready"])
    # (bar value, page text) while the job runs, sampled the way an author would glance at it.
    samples: list[tuple[float, str]] = []
    progress_shot = False
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline and not ready.is_visible():
        try:
            value = bar.get_attribute("aria-valuenow", timeout=500)
            text = main.inner_text(timeout=2000)
        except PlaywrightError:  # the page is redrawing under us
            page.wait_for_timeout(200)
            continue
        if value is not None and not ready.is_visible():
            # The picture shows the bar partly filled and some text streamed in.
            if not progress_shot and 25 <= float(value) < 100:
                shot(page, "04-progress")
                progress_shot = True
            samples.append((float(value), text))
        page.wait_for_timeout(200)
    if not progress_shot:
        shot(page, "04-progress")

    # 5. The job succeeded, its text is on the page and its bar is full.
    with stack.client() as api:
        jobs = api.get("/jobs", params={"book_id": book_id}).json()["items"]
    suggest_jobs = [j for j in jobs if j["kind"] == "suggest"]
    assert len(suggest_jobs) == 1, jobs
    job = suggest_jobs[0]
    assert job["status"] == "succeeded", job
    expect(ready).to_be_visible(timeout=10_000)
    assert job["chapter_id"] == chapters[0]["id"]
    assert job["params"].get("max_tokens") == 96, job["params"]
    result_text = str(job["result"]["text"])
    head = words(result_text)[:6]
    assert head, job["result"]
    assert contains_words(main.inner_text(), head), (head, main.inner_text())
    finished = PT["job_line"].format(
        kind=PT["kind_suggest"], status=PT["status_succeeded"], duration=""
    )
    expect(main.get_by_text(finished.rstrip())).to_be_visible()
    # The job's card in the jobs list (other jobs, such as the chapter's indexing, have theirs).
    card = (
        main.get_by_test_id("stVerticalBlock")
        .filter(has_text=finished.rstrip())
        .filter(has=page.get_by_role("progressbar"))
        .last
    )
    done_bar = card.get_by_role("progressbar")
    expect(done_bar).to_have_attribute("aria-valuenow", "100")
    # The fill slides in with a CSS transition: wait until it covers the track.
    page.wait_for_function(
        """bar => {
            const fill = bar.querySelector('[data-testid="stProgressBarTrack"] > div');
            const track = fill && fill.parentElement.getBoundingClientRect();
            const box = fill && fill.getBoundingClientRect();
            return !!fill && box.width > 0 && Math.abs(box.left - track.left) < 1;
        }""",
        arg=done_bar.element_handle(),
    )
    shot(page, "05-result")
    values = [v for v, _ in samples]
    assert any(0 < v < 100 for v in values), f"the bar never moved while the job ran: {values}"
    assert any(v < 100 and contains_words(text, head[:3]) for v, text in samples), (
        "the suggestion's text did not appear before the job finished"
    )

    # 6. The interface in English.
    sidebar.get_by_label(PT["ui_language"], exact=True).click()
    page.get_by_role("option", name="English").click()
    expect(main.get_by_role("button", name=EN["generate"])).to_be_visible()
    expect(sidebar.get_by_role("heading", name=EN["services"])).to_be_visible()
    expect(main.get_by_text(EN["suggestions_ready"])).to_be_visible()
    shot(page, "06-english")
