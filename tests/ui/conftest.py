"""Fixtures of the UI tests: the page under AppTest, and a chapter already in the book's memory."""

from __future__ import annotations

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import Stack
from tests.job_client import succeeded
from tests.ui.pages import open_app


@pytest.fixture()
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("API_URL", stack.api_url)
    return open_app()


@pytest.fixture()
def indexed_chapter(api: httpx.Client, chapter: dict[str, object]) -> dict[str, object]:
    """The `chapter` fixture once its indexing job (queued by the save) has finished."""
    succeeded(api, str(chapter["index_job_id"]), timeout=180)
    return chapter
