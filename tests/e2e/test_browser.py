"""A new author in a real browser: book, chapter, revisions, suggestions, a question with a citation.

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


def settle(page: Any) -> None:
    """Wait for Streamlit's script run to end (its "Running…" status widget goes away): a form
    submitted while the first run is still drawing the page was seen lost once on a busy CI."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def contains_words(haystack: str, needle: list[str]) -> bool:
    """Whether `needle` occurs as consecutive words of `haystack` (markdown markup ignored)."""
    hay = words(haystack)
    return any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def commit(locator: Any, key: str = "Enter") -> None:
    """Streamlit sends a widget's value on Enter (Ctrl+Enter in a text area) or on blur."""
    locator.press(key)
    locator.page.wait_for_timeout(800)


def follow_bar(page: Any, main: Any, done: Any, name: str) -> list[tuple[float, str]]:
    """(bar value, page text) while a job runs, sampled the way an author would glance at it."""
    from playwright.sync_api import Error as PlaywrightError

    bar = main.get_by_role("progressbar").first
    samples: list[tuple[float, str]] = []
    progress_shot = False
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline and not done.is_visible():
        try:
            value = bar.get_attribute("aria-valuenow", timeout=500)
            text = main.inner_text(timeout=2000)
        except PlaywrightError:  # the page is redrawing under us
            page.wait_for_timeout(200)
            continue
        if value is not None and not done.is_visible():
            if not progress_shot and 25 <= float(value) < 100:
                shot(page, name)  # the bar partly filled and some text streamed in
                progress_shot = True
            samples.append((float(value), text))
        page.wait_for_timeout(200)
    if not progress_shot:
        shot(page, name)
    return samples


def test_new_author_writes_revises_gets_suggestions_and_asks(
    stack: Stack, ui_url: str, page: Any
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    title = f"Livro {uuid.uuid4().hex[:8]}"
    chapter_title = "A partida"
    first_text = (
        "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa. "
        "O vento trazia o cheiro de sal e de despedida."
    )
    second_text = "Ana ficou no cais e viu o navio partir sem ela."

    # 1. The page opens with every service up.
    page.goto(ui_url)
    sidebar = page.get_by_test_id("stSidebar")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=PT["app_title"])).to_be_visible()
    expect(sidebar.get_by_text(f"{PT['service_llm']}: {PT['state_up']}")).to_be_visible()
    settle(page)
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
    main.get_by_label(PT["chapter_text"], exact=True).fill(first_text)
    main.get_by_role("button", name=PT["save_chapter"]).click()
    saved = PT["chapter_saved"].format(
        title=chapter_title, revision=1, words=len(first_text.split())
    )
    expect(main.get_by_text(saved)).to_be_visible()
    expect(main.get_by_text(PT["tools_for"].format(title=chapter_title))).to_be_visible()
    word_count = PT["word_count"].format(words=len(first_text.split()))
    expect(main.get_by_text(word_count, exact=True)).to_be_visible()
    with stack.client() as api:
        chapters = api.get(f"/books/{book_id}/chapters").json()
    assert [(c["title"], c["current_revision"]) for c in chapters] == [(chapter_title, 1)]
    chapter_id = chapters[0]["id"]
    shot(page, "03-chapter-saved")

    # 4. Overwritten (revision 2), then revision 1 restored from the history (revision 3).
    main.get_by_label(PT["chapter_text"], exact=True).fill(second_text)
    main.get_by_role("button", name=PT["save_chapter"]).click()
    saved = PT["chapter_saved"].format(
        title=chapter_title, revision=2, words=len(second_text.split())
    )
    expect(main.get_by_text(saved)).to_be_visible()
    main.get_by_text(PT["revisions"].format(count=2)).click()
    # The revision before the current one is picked to compare with.
    restore = main.get_by_role("button", name=PT["restore_revision"].format(number=1))
    expect(restore).to_be_enabled()
    main.get_by_role("tab", name=PT["revision_diff"]).click()
    expect(main.get_by_text(f"+{second_text}")).to_be_visible()
    shot(page, "04-revision-diff")
    restore.click()
    expect(main.get_by_text(PT["revision_restored"].format(number=1, revision=3))).to_be_visible()
    expect(main.get_by_label(PT["chapter_text"], exact=True)).to_have_value(first_text)
    with stack.client() as api:
        detail = api.get(f"/chapters/{chapter_id}").json()
    assert (detail["current_revision"], detail["text"]) == (3, first_text)
    shot(page, "05-revision-restored")

    # 5. Suggestions with a short answer; the bar fills and the text streams in.
    max_tokens = main.get_by_label(PT["max_tokens"], exact=True).first
    max_tokens.fill("96")
    commit(max_tokens)
    main.get_by_role("button", name=PT["generate"]).click()
    ready = main.get_by_text(PT["suggestions_ready"])
    samples = follow_bar(page, main, ready, "06-suggestions-progress")

    with stack.client() as api:
        jobs = api.get("/jobs", params={"book_id": book_id, "kind": "suggest"}).json()["items"]
    assert len(jobs) == 1, jobs
    job = jobs[0]
    assert job["status"] == "succeeded", job
    expect(ready).to_be_visible(timeout=10_000)
    assert (job["chapter_id"], job["params"].get("max_tokens")) == (chapter_id, 96), job
    head = words(str(job["result"]["text"]))[:6]
    assert head, job["result"]
    assert contains_words(main.inner_text(), head), (head, main.inner_text())
    done_bar = main.get_by_role("progressbar").first
    expect(done_bar).to_have_attribute("aria-valuenow", "100")
    shot(page, "07-suggestions")
    values = [v for v, _ in samples]
    assert any(0 < v < 100 for v in values), f"the bar never moved while the job ran: {values}"
    assert any(v < 100 and contains_words(text, head[:3]) for v, text in samples), (
        "the suggestion's text did not appear before the job finished"
    )

    # 6. A question on the Copilot page, answered from the book's memory with a citation.
    with stack.client() as api:
        indexing = api.get(
            "/jobs", params={"book_id": book_id, "kind": "index_chapter", "limit": 1}
        ).json()["items"][0]
    wait_until(
        lambda: stack_job_done(stack, indexing["id"]),
        timeout=JOB_TIMEOUT_S,
        what="indexing",
        proc=None,
    )
    sidebar.get_by_text(PT["page_copilot"], exact=True).click()
    question = main.get_by_label(PT["question"], exact=True)
    question.fill("Para onde Ana embarcou?")
    commit(question, "Control+Enter")
    budget = main.get_by_label(PT["max_tokens"], exact=True).first
    budget.fill("48")
    commit(budget)
    main.get_by_role("button", name=PT["ask_button"]).click()
    citation = main.get_by_role(
        "button", name=PT["citation_label"].format(position=1, title=chapter_title)
    )
    follow_bar(page, main, citation, "08-ask-progress")
    expect(citation).to_be_visible()
    expect(main.get_by_text(PT["sources"], exact=True)).to_be_visible()
    shot(page, "09-answer-with-citation")
    with stack.client() as api:
        asked = api.get("/jobs", params={"book_id": book_id, "kind": "ask"}).json()["items"][0]
    assert asked["status"] == "succeeded", asked
    assert [c["chapter_id"] for c in asked["result"]["citations"]][:1] == [chapter_id]

    # The citation opens its chapter in the editor.
    citation.click()
    expect(main.get_by_label(PT["chapter_text"], exact=True)).to_have_value(first_text)
    shot(page, "10-citation-opened")

    # 7. The interface in English, with the results still on the page.
    sidebar.get_by_label(PT["ui_language"], exact=True).click()
    page.get_by_role("option", name="English").click()
    expect(main.get_by_role("button", name=EN["generate"])).to_be_visible()
    expect(sidebar.get_by_role("heading", name=EN["services"])).to_be_visible()
    expect(main.get_by_text(EN["suggestions_ready"])).to_be_visible()
    sidebar.get_by_text(EN["page_jobs"], exact=True).click()
    finished = EN["job_line"].format(
        kind=EN["kind_suggest"], status=EN["status_succeeded"], duration=""
    )
    expect(main.get_by_text(finished.rstrip()).first).to_be_visible()
    shot(page, "11-english-jobs")


def new_book(stack: Stack, prefix: str) -> tuple[str, str]:
    """A new pt-BR book with a unique title: (id, title)."""
    with stack.client() as api:
        book = api.post(
            "/books", json={"title": f"{prefix} {uuid.uuid4().hex[:6]}", "language": "pt-BR"}
        )
    assert book.status_code == 201, book.text
    return book.json()["id"], book.json()["title"]


def open_book_page(page: Any, ui_url: str, title: str, label: str, heading: str) -> Any:
    """The app with `title` picked in the sidebar and the page `label` open (its `heading`
    shown); returns the main area."""
    from playwright.sync_api import expect

    page.goto(ui_url)
    sidebar = page.get_by_test_id("stSidebar")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=PT["app_title"], exact=True)).to_be_visible()
    settle(page)
    sidebar.get_by_label(PT["select_book"], exact=True).click()
    page.get_by_role("option", name=f"{title} (pt-BR)").click()
    expect(main.get_by_role("heading", name=title)).to_be_visible()
    sidebar.get_by_text(label, exact=True).click()
    expect(main.get_by_role("heading", name=heading)).to_be_visible()
    return main


def stack_job_done(stack: Stack, job_id: str) -> bool:
    with stack.client() as api:
        return bool(api.get(f"/jobs/{job_id}").json()["status"] in ("succeeded", "failed"))


MANUSCRIPT = """# O Porto

Um romance curto.

## Capítulo 1 — A chegada

Ana chegou ao porto numa manhã de névoa, com uma mala e nenhuma carta.

## Capítulo 2 — O faroleiro

O faroleiro contou-lhe que o navio de Lisboa não voltaria antes do inverno.

## Capítulo 3 — A partida

No fim, foi Ana quem partiu, num barco de pesca, sem olhar para trás.
"""


def test_an_author_imports_a_manuscript_reindexes_and_exports_it(
    stack: Stack, ui_url: str, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    book_id, title = new_book(stack, "Porto")
    source = tmp_path / "o-porto.md"
    source.write_text(MANUSCRIPT, encoding="utf-8")
    main = open_book_page(page, ui_url, title, PT["page_manuscript"], PT["import_manuscript"])

    # 1. The file is uploaded and its split previewed before anything is saved.
    main.locator("input[type=file]").set_input_files(str(source))
    preview = main.get_by_role("button", name=PT["preview_split"])
    expect(preview).to_be_enabled()
    preview.click()
    # The book's own title (`# O Porto`) is not a chapter: the `##` headings are.
    how = PT["split_markdown-h2-with-book-title"]
    summary = re.compile(rf"^3 capítulos, \d+ palavras · divisão por {re.escape(how)}$")
    expect(main.get_by_text(summary)).to_be_visible()
    shot(page, "21-manuscript-preview")
    with stack.client() as api:
        assert api.get(f"/books/{book_id}/chapters").json() == []

    # 2. Imported as a job; the book's reindex follows with its own bar.
    main.get_by_role("button", name=PT["import_button"], exact=True).click()
    imported = main.get_by_text(re.compile(r"^3 capítulos importados \(\d+ palavras\)\.$"))
    expect(imported).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)
    shot(page, "22-manuscript-imported")
    reindexed = main.get_by_text(PT["reindex_done"].format(indexed=3, skipped=0, total=3))
    expect(reindexed).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)
    shot(page, "23-manuscript-reindexed")
    with stack.client() as api:
        chapters = api.get(f"/books/{book_id}/chapters").json()
    assert [c["title"] for c in chapters] == [
        "Capítulo 1 — A chegada",
        "Capítulo 2 — O faroleiro",
        "Capítulo 3 — A partida",
    ]

    # 3. Exported as Markdown and downloaded: the chapters in order under their titles.
    main.get_by_role("button", name=PT["prepare_export"], exact=True).click()
    download_button = main.get_by_role("button", name=re.compile(r"^Baixar .+\.md$"))
    with page.expect_download() as info:
        download_button.click()
    exported = Path(info.value.path()).read_text(encoding="utf-8")
    positions = [exported.index(f"{c['title']}\n") for c in chapters]
    assert positions == sorted(positions), exported
    assert "nenhuma carta" in exported and "sem olhar para trás" in exported
    shot(page, "24-manuscript-exported")


BIBLE_CHAPTERS = [
    (
        "A vizinha",
        "Capitu morava na Rua de Matacavalos com o pai. Capitu tinha catorze anos.\n\n"
        "— Vamos ao quintal, disse Capitu.\n\nJosé Dias, o agregado, observava da varanda.",
    ),
    (
        "O retrato",
        "Capitu apareceu à janela.\n\n— Que foi?\n\n— Nada.\n\n"
        "Não podia tirar os olhos daquella moça, alta, forte e cheia, num vestido de chita.",
    ),
]


def test_an_author_builds_the_bible_and_opens_a_fact_at_its_quote(
    stack: Stack, ui_url: str, page: Any
) -> None:
    """The Bíblia page in a browser: the build with its bar, the cast with the presence heat
    map, a character's timeline with quotes, and a quote that opens its chapter in the
    editor with the quote shown where it stands."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    book_id, title = new_book(stack, "Bíblia")
    with stack.client() as api:
        for chapter_title, text in BIBLE_CHAPTERS:
            saved = api.post(
                "/chapter/save", json={"book_id": book_id, "title": chapter_title, "text": text}
            )
            assert saved.status_code == 201, saved.text
        # The jobs that follow each save (indexing, the bible's own extraction) end first:
        # the page's build then starts from a settled book.
        wait_until(
            lambda: (
                not any(
                    api.get("/jobs", params={"book_id": book_id, "status": status}).json()["items"]
                    for status in ("queued", "running")
                )
            ),
            timeout=JOB_TIMEOUT_S,
            what="the saves' jobs",
            proc=None,
        )

    main = open_book_page(page, ui_url, title, PT["page_bible"], PT["bible_build"])
    settle(page)

    # 1. Built without the LLM (the deterministic pass), its bar followed to the end.
    # Every chapter again, so the deterministic pass is what the timeline shows.
    main.get_by_text(PT["bible_use_llm"], exact=True).click()
    settle(page)
    main.get_by_text(PT["bible_force"], exact=True).click()
    settle(page)
    main.get_by_role("button", name=PT["bible_build_button"]).click()
    built = main.get_by_text(re.compile(r"capítulos extraídos, .* fatos\.$"))
    expect(built).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)
    shot(page, "31-bible-built")

    # 2. The cast, with the presence of each character drawn chapter by chapter.
    expect(main.get_by_role("heading", name=PT["bible_entities"])).to_be_visible()
    expect(main.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    main.get_by_label(PT["bible_pick"], exact=True).click()
    page.get_by_role("option", name=f"Capitu ({PT['bible_kind_character']})").click()
    expect(main.get_by_role("heading", name="Capitu", exact=True)).to_be_visible()
    settle(page)
    # Her age from chapter 1 and her looks from chapter 2, each with its quote.
    expect(main.get_by_text("“Capitu tinha catorze anos.”")).to_be_visible()
    expect(main.get_by_text(re.compile(r"aparência: .*alta, forte e cheia"))).to_be_visible()
    shot(page, "32-bible-timeline")

    # 3. The looks' quote opens chapter 2 in the editor, the quote in bold where it stands.
    looks = main.get_by_text(re.compile(r"^“.*alta, forte e cheia.*”$"))
    expect(looks).to_be_visible()
    # The timeline's quotes and "open" buttons come in the same order, one per fact.
    quotes = [q.inner_text() for q in main.get_by_text(re.compile(r"^“.*”$")).all()]
    which = next(i for i, q in enumerate(quotes) if "alta, forte e cheia" in q)
    main.get_by_role("button", name=PT["bible_open"]).nth(which).click()
    expect(main.get_by_role("heading", name=PT["editor"])).to_be_visible()
    shown = main.get_by_test_id("stAlert").filter(has_text=PT["editor_quote"])
    expect(shown).to_be_visible()
    expect(shown.locator("strong")).to_contain_text("alta, forte e cheia")
    expect(main.get_by_label(PT["chapter_title"])).to_have_value("O retrato")
    shot(page, "33-bible-quote-in-editor")
