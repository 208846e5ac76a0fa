"""Driving the Streamlit UI with AppTest: open the app, pick a book and a page, wait for jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

# AppTest resolves a relative path against the calling file, so the script is named absolutely.
APP = Path(__file__).resolve().parents[2] / "services" / "ui" / "app.py"


def values(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def open_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def open_book(app: AppTest, book_id: str, page: str = "editor") -> AppTest:
    app.run()  # the book may be younger than the page's list of books
    app.sidebar.selectbox(key="book_id").select(book_id).run()
    app.sidebar.radio(key="page").set_value(page).run()
    assert not app.exception
    return app


def run_until(
    app: AppTest, done: Callable[[AppTest], bool], timeout_s: float = 240.0, what: str = "the page"
) -> AppTest:
    """Rerun the page, as the browser's timed redraws do, until `done` holds.

    AppTest runs a script once per `run()`; the page's followed jobs redraw in fragments on a
    timer in the browser, so here each run stands for one of those redraws.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        app.run()
        assert not app.exception, app.exception
        if done(app):
            return app
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not get there in {timeout_s:.0f} s")
        time.sleep(0.3)


def no_active_jobs(app: AppTest) -> bool:
    return "active_jobs" not in app.session_state or not app.session_state["active_jobs"]
