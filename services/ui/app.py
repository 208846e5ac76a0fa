"""The Streamlit UI (`streamlit run services/ui/app.py`): it talks only to the API, over HTTP.

Pages live in `services/ui/views/`, plain logic in `services/ui/logic.py` (tested without
Streamlit), and what the pages share (the API client, followed jobs) in `services/ui/session.py`.
"""

from __future__ import annotations

import streamlit as st

from services.ui.i18n import labels
from services.ui.session import session_api, ui_settings
from services.ui.views import (
    bible,
    continuity,
    copilot,
    editor,
    jobs,
    manuscript,
    memory,
    sidebar,
)

PAGES = {
    "editor": editor.render,
    "copilot": copilot.render,
    "manuscript": manuscript.render,
    "bible": bible.render,
    "memory": memory.render,
    "continuity": continuity.render,
    "jobs": jobs.render,
}


def main() -> None:
    st.set_page_config(page_title="Copiloto", page_icon="✍️", layout="wide")
    # The sidebar's language menu keeps the choice; UI_LANGUAGE sets where a session starts.
    st.session_state.setdefault("ui_language", ui_settings().language)
    t = labels(st.session_state["ui_language"])
    api = session_api()
    book = sidebar.render(api, t)
    st.title(t.t("app_title"))
    st.caption(t.t("app_caption"))
    if book is None:
        st.info(t.t("pick_book"))
        return
    page = st.session_state.get("page", "editor")
    st.header(book["title"])
    st.caption(
        t.t("book_meta", language=book["language"], genre=book["genre"] or t.t("no_genre"))
        + f" · {t.t('page_' + page)}"
    )
    PAGES[page](api, book, t)


if __name__ == "__main__":
    main()
