"""Story bible: build it, browse the cast and places, follow an entity's facts chapter by
chapter (with quotes that open the editor), edit and merge, see who is on stage, and move the
bible in and out (JSON, Markdown, SillyTavern / NovelAI lorebooks)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.ui.api_client import (
    ApiClient,
    ApiError,
    BibleEntity,
    BibleEntityDetail,
    BibleFact,
    BibleImportReport,
    Book,
    Presence,
)
from services.ui.i18n import Labels
from services.ui.logic import JobView
from services.ui.session import (
    flash,
    job_button,
    job_panel,
    result_field,
    show_flash,
    shown,
    start_job,
)
from services.ui.views.editor import open_at_quote

KINDS = ("character", "place", "object", "group")
KIND_LABELS = {
    "character": "bible_kind_character",
    "place": "bible_kind_place",
    "object": "bible_kind_object",
    "group": "bible_kind_group",
}
EXPORT_FORMATS = {
    "json": "bible_format_json",
    "markdown": "bible_format_markdown",
    "sillytavern": "bible_format_sillytavern",
}
IMPORT_FORMATS = {
    "json": "bible_format_json",
    "sillytavern": "bible_format_sillytavern",
    "novelai": "bible_format_novelai",
}
ALL = "all"


def render(api: ApiClient, book: Book, t: Labels) -> None:
    build_section(api, book, t)
    st.divider()
    presence = shown(lambda: api.bible_presence(book["id"]))
    entity_id = entities_section(api, book, t)
    if entity_id:
        st.divider()
        entity_section(api, book, entity_id, t)
    if presence is not None:
        st.divider()
        pictures_section(presence, t)
    st.divider()
    portability_section(api, book, t)


def _kind(kind: str, t: Labels) -> str:
    return t.t(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def _attribute(attribute: str, t: Labels) -> str:
    """The attribute in the page's language; one the author typed is shown as typed."""
    return t.get(f"bible_attr_{attribute}", attribute)


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------


def on_build(api: ApiClient, book_id: str) -> None:
    force = bool(st.session_state.get("bible_force"))
    use_llm = bool(st.session_state.get("bible_use_llm", True))
    slot = f"bible:{book_id}"
    start_job(slot, lambda: api.build_bible(book_id, force=force, use_llm=use_llm), slot)


def build_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("bible_build"))
    st.caption(t.t("bible_build_help"))
    slot = f"bible:{book['id']}"
    show_flash(slot)
    force, use_llm = st.columns(2)
    force.toggle(t.t("bible_force"), key="bible_force")
    use_llm.toggle(
        t.t("bible_use_llm"), key="bible_use_llm", value=True, help=t.t("bible_use_llm_help")
    )
    job_button(t.t("bible_build_button"), "build_bible", slot, on_build, (api, book["id"]))
    job_panel(api, slot, t, stream_text=False, show_outcome=lambda view: build_outcome(view, t))


def build_outcome(view: JobView, t: Labels) -> None:
    st.success(
        t.t(
            "bible_built",
            extracted=result_field(view, "extracted") or 0,
            skipped=result_field(view, "skipped") or 0,
            total=result_field(view, "total") or 0,
            entities=result_field(view, "entities") or 0,
            facts=result_field(view, "facts") or 0,
        )
    )


# ---------------------------------------------------------------------------------------------
# Cast and places
# ---------------------------------------------------------------------------------------------


def entities_section(api: ApiClient, book: Book, t: Labels) -> str | None:
    """The list with its filters; returns the entity picked for the timeline."""
    st.subheader(t.t("bible_entities"))
    show_flash("bible")
    kind_col, search_col = st.columns(2)
    kind = kind_col.selectbox(
        t.t("bible_kind_filter"),
        (ALL, *KINDS),
        key="bible_kind",
        format_func=lambda k: t.t("bible_all_kinds") if k == ALL else _kind(k, t),
    )
    query = search_col.text_input(t.t("bible_search"), key="bible_q")
    page = shown(
        lambda: api.bible_entities(
            book["id"], kind=None if kind == ALL else kind, q=query.strip() or None
        )
    )
    if page is None:
        return None
    items = page["items"]
    if not items:
        st.info(t.t("bible_empty"))
        return None
    st.dataframe(
        [
            {
                t.t("bible_col_name"): e["name"],
                t.t("bible_col_kind"): _kind(e["kind"], t),
                t.t("bible_col_aliases"): ", ".join(e["aliases"]),
                t.t("bible_col_mentions"): e["mentions"],
                t.t("bible_col_chapters"): len(e["chapters"]),
                t.t("bible_col_facts"): e["facts"],
            }
            for e in items
        ],
        hide_index=True,
        key="bible_table",
    )
    by_id = {e["id"]: e for e in items}
    if st.session_state.get("bible_entity") not in by_id:
        st.session_state.bible_entity = items[0]["id"]
    picked: str = st.selectbox(
        t.t("bible_pick"),
        list(by_id),
        key="bible_entity",
        format_func=lambda i: f"{by_id[i]['name']} ({_kind(by_id[i]['kind'], t)})",
    )
    st.session_state.bible_listed = by_id
    return picked


# ---------------------------------------------------------------------------------------------
# One entity: edits and its timeline
# ---------------------------------------------------------------------------------------------


def _call(action: Any, success: str | None = None) -> bool:
    try:
        action()
    except ApiError as exc:
        flash("bible", "error", exc.message)
        return False
    if success:
        flash("bible", "success", success)
    return True


def on_save_entity(api: ApiClient, book_id: str, entity_id: str, t: Labels) -> None:
    state = st.session_state
    aliases = [a.strip() for a in str(state.get(f"bible_aliases_{entity_id}", "")).split(",")]
    _call(
        lambda: api.update_bible_entity(
            book_id,
            entity_id,
            name=str(state.get(f"bible_name_{entity_id}", "")).strip() or None,
            kind=state.get(f"bible_kind_{entity_id}"),
            aliases=[a for a in aliases if a],
        ),
        t.t("bible_saved"),
    )


def on_delete_entity(api: ApiClient, book_id: str, entity: BibleEntityDetail, t: Labels) -> None:
    confirm = bool(st.session_state.get(f"bible_confirm_{entity['id']}"))
    if entity["origin"] == "author" and not confirm:
        flash("bible", "warning", t.t("bible_confirm_needed"))
        return
    if _call(
        lambda: api.delete_bible_entity(book_id, entity["id"], confirm=confirm),
        t.t("bible_deleted", name=entity["name"]),
    ):
        st.session_state.pop("bible_entity", None)


def on_merge(api: ApiClient, book_id: str, entity_id: str, t: Labels) -> None:
    others = list(st.session_state.get(f"bible_merge_{entity_id}") or [])
    if others:
        _call(lambda: api.merge_bible_entities(book_id, entity_id, others), t.t("bible_merged"))


def on_fact_flag(api: ApiClient, book_id: str, fact: BibleFact, flag: str) -> None:
    if flag == "pinned":
        _call(lambda: api.update_bible_fact(book_id, fact["id"], pinned=not fact["pinned"]))
    else:
        _call(
            lambda: api.update_bible_fact(book_id, fact["id"], intentional=not fact["intentional"])
        )


def on_delete_fact(api: ApiClient, book_id: str, fact_id: str) -> None:
    _call(lambda: api.delete_bible_fact(book_id, fact_id))


def on_open_fact(api: ApiClient, fact: BibleFact) -> None:
    """A quote opens its chapter in the editor, the quote shown where it stands."""
    open_at_quote(api, fact["chapter_id"], fact["quote"], fact["start"])


def entity_section(api: ApiClient, book: Book, entity_id: str, t: Labels) -> None:
    entity = shown(lambda: api.bible_entity(book["id"], entity_id))
    if entity is None:
        return
    st.subheader(entity["name"])
    st.caption(
        t.t(
            "bible_entity_meta",
            kind=_kind(entity["kind"], t),
            mentions=entity["mentions"],
            chapters=len(entity["chapters"]),
            origin=t.t("bible_origin_author")
            if entity["origin"] == "author"
            else t.t("bible_origin_extracted"),
        )
    )
    notes = shown(lambda: api.bible_notes(book["id"], entity_id)) or []
    for note in notes:
        st.info(t.t("bible_note", source=note["source"]) + "\n\n" + note["text"])
    with st.expander(t.t("bible_edit")):
        edit_entity(api, book, entity, t)
    timeline(api, book, entity, t)


def edit_entity(api: ApiClient, book: Book, entity: BibleEntityDetail, t: Labels) -> None:
    eid = entity["id"]
    name_col, kind_col = st.columns(2)
    name_col.text_input(t.t("bible_name"), value=entity["name"], key=f"bible_name_{eid}")
    kind_col.selectbox(
        t.t("bible_col_kind"),
        KINDS,
        index=KINDS.index(entity["kind"]) if entity["kind"] in KINDS else 0,
        key=f"bible_kind_{eid}",
        format_func=lambda k: _kind(k, t),
    )
    st.text_input(
        t.t("bible_aliases"), value=", ".join(entity["aliases"]), key=f"bible_aliases_{eid}"
    )
    st.button(
        t.t("bible_save"),
        key=f"bible_save_{eid}",
        type="primary",
        on_click=on_save_entity,
        args=(api, book["id"], eid, t),
    )
    listed: dict[str, BibleEntity] = st.session_state.get("bible_listed", {})
    others = [i for i in listed if i != eid]
    st.multiselect(
        t.t("bible_merge_pick"),
        others,
        key=f"bible_merge_{eid}",
        format_func=lambda i: listed[i]["name"],
    )
    st.button(
        t.t("bible_merge"),
        key=f"bible_merge_button_{eid}",
        disabled=not st.session_state.get(f"bible_merge_{eid}"),
        on_click=on_merge,
        args=(api, book["id"], eid, t),
    )
    if entity["origin"] == "author":
        st.checkbox(t.t("bible_confirm_delete"), key=f"bible_confirm_{eid}")
    st.button(
        t.t("bible_delete"),
        key=f"bible_delete_{eid}",
        on_click=on_delete_entity,
        args=(api, book["id"], entity, t),
    )


def timeline(api: ApiClient, book: Book, entity: BibleEntityDetail, t: Labels) -> None:
    st.markdown(f"**{t.t('bible_timeline')}**")
    if not entity["facts"]:
        st.caption(t.t("bible_no_facts"))
        return
    for fact in entity["facts"]:
        flags = []
        if fact["pinned"]:
            flags.append("📌")
        if fact["intentional"]:
            flags.append("✔️")
        time = f" · {fact['story_time']}" if fact["story_time"] else ""
        st.markdown(
            t.t(
                "bible_fact_line",
                position=fact["chapter_position"],
                title=fact["chapter_title"],
                attribute=_attribute(fact["attribute"], t),
                value=fact["value"],
            )
            + time
            + (" " + " ".join(flags) if flags else "")
        )
        st.caption(f"“{fact['quote']}”")
        fid = fact["id"]
        open_col, pin_col, mark_col, delete_col = st.columns(4)
        open_col.button(
            t.t("bible_open"),
            key=f"bible_open_{fid}",
            on_click=on_open_fact,
            args=(api, fact),
        )
        pin_col.button(
            t.t("bible_unpin") if fact["pinned"] else t.t("bible_pin"),
            key=f"bible_pin_{fid}",
            on_click=on_fact_flag,
            args=(api, book["id"], fact, "pinned"),
        )
        mark_col.button(
            t.t("bible_unmark") if fact["intentional"] else t.t("bible_intentional"),
            key=f"bible_mark_{fid}",
            on_click=on_fact_flag,
            args=(api, book["id"], fact, "intentional"),
        )
        delete_col.button(
            t.t("bible_delete_fact"),
            key=f"bible_delete_fact_{fid}",
            on_click=on_delete_fact,
            args=(api, book["id"], fid),
        )


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------


def heat_rows(presence: Presence, top: int = 25) -> list[dict[str, Any]]:
    """One row per (entity, chapter) for the heat map: the most present entities first."""
    rows = []
    for entity in presence["entities"][:top]:
        for chapter, count in zip(presence["chapters"], entity["counts"], strict=True):
            rows.append(
                {
                    "entity": entity["name"],
                    "chapter": f"{chapter['position']}. {chapter['title']}",
                    "position": chapter["position"],
                    "mentions": count,
                }
            )
    return rows


def pictures_section(presence: Presence, t: Labels) -> None:
    st.subheader(t.t("bible_pictures"))
    if not presence["chapters"]:
        return
    if presence["entities"]:
        st.markdown(f"**{t.t('bible_heatmap')}**")
        chapters = [f"{c['position']}. {c['title']}" for c in presence["chapters"]]
        names = [e["name"] for e in presence["entities"][:25]]
        spec = {
            "data": {"values": heat_rows(presence)},
            "mark": "rect",
            "encoding": {
                "x": {
                    "field": "chapter",
                    "type": "nominal",
                    "sort": chapters,
                    "title": t.t("bible_col_chapter"),
                },
                "y": {"field": "entity", "type": "nominal", "sort": names, "title": None},
                "color": {
                    "field": "mentions",
                    "type": "quantitative",
                    "scale": {"scheme": "oranges"},
                    "title": t.t("bible_col_mentions"),
                },
                "tooltip": [
                    {"field": "entity", "type": "nominal"},
                    {"field": "chapter", "type": "nominal"},
                    {"field": "mentions", "type": "quantitative"},
                ],
            },
        }
        st.vega_lite_chart(spec, use_container_width=True, key="bible_heatmap")
    st.markdown(f"**{t.t('bible_words')}**")
    st.bar_chart(
        {
            t.t("bible_col_chapter"): [
                f"{c['position']:03d}. {c['title']}" for c in presence["chapters"]
            ],
            t.t("bible_col_words"): [c["words"] for c in presence["chapters"]],
        },
        x=t.t("bible_col_chapter"),
        y=t.t("bible_col_words"),
    )
    st.markdown(f"**{t.t('bible_on_stage')}**")
    by_id = {c["id"]: c for c in presence["chapters"]}
    picked = st.selectbox(
        t.t("bible_stage_chapter"),
        list(by_id),
        key="bible_stage",
        format_func=lambda i: f"{by_id[i]['position']}. {by_id[i]['title']}",
    )
    index = list(by_id).index(picked) if picked in by_id else 0
    present = [
        (e["name"], e["kind"], e["counts"][index])
        for e in presence["entities"]
        if e["counts"][index]
    ]
    if not present:
        st.caption(t.t("bible_nobody"))
        return
    st.dataframe(
        [
            {
                t.t("bible_col_name"): name,
                t.t("bible_col_kind"): _kind(kind, t),
                t.t("bible_col_mentions"): count,
            }
            for name, kind, count in sorted(present, key=lambda p: -p[2])
        ],
        hide_index=True,
        key="bible_stage_table",
    )


# ---------------------------------------------------------------------------------------------
# Export and import
# ---------------------------------------------------------------------------------------------


def on_prepare_bible_export(api: ApiClient, book_id: str) -> None:
    fmt = st.session_state.get("bible_export_format", "json")
    try:
        st.session_state.bible_export_file = api.export_bible(book_id, fmt)
    except ApiError as exc:
        st.session_state.bible_export_file = None
        flash("bible_io", "error", exc.message)


def _bible_upload() -> tuple[str, bytes] | None:
    uploaded = st.session_state.get("bible_file")
    if uploaded is None:
        return None
    return uploaded.name, uploaded.getvalue()


def on_bible_import(api: ApiClient, book_id: str, dry_run: bool, t: Labels) -> None:
    upload = _bible_upload()
    if upload is None:
        return
    fmt = st.session_state.get("bible_import_format", "json")
    try:
        report = api.import_bible(book_id, fmt, *upload, dry_run=dry_run)
    except ApiError as exc:
        st.session_state.bible_import_report = None
        flash("bible_io", "error", exc.message)
        return
    st.session_state.bible_import_report = report
    if not dry_run:
        flash(
            "bible_io",
            "success",
            t.t(
                "bible_imported",
                created=len(report["created"]),
                updated=len(report["updated"]),
                conflicts=len(report["conflicts"]),
            ),
        )


def portability_section(api: ApiClient, book: Book, t: Labels) -> None:
    st.subheader(t.t("bible_export"))
    show_flash("bible_io")
    pick, prepare = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox(
        t.t("bible_export_format"),
        list(EXPORT_FORMATS),
        key="bible_export_format",
        format_func=lambda f: t.t(EXPORT_FORMATS[f]),
        on_change=lambda: st.session_state.update(bible_export_file=None),
    )
    prepare.button(
        t.t("bible_prepare_export"),
        key="bible_prepare_export",
        on_click=on_prepare_bible_export,
        args=(api, book["id"]),
        use_container_width=True,
    )
    ready = st.session_state.get("bible_export_file")
    if ready is not None:
        st.download_button(
            t.t("bible_download", name=ready.name),
            data=ready.data,
            file_name=ready.name,
            mime=ready.media_type,
            key="bible_download",
            type="primary",
        )
    st.subheader(t.t("bible_import"))
    st.caption(t.t("bible_import_help"))
    st.selectbox(
        t.t("bible_import_format"),
        list(IMPORT_FORMATS),
        key="bible_import_format",
        format_func=lambda f: t.t(IMPORT_FORMATS[f]),
        on_change=lambda: st.session_state.update(bible_import_report=None),
    )
    st.file_uploader(
        t.t("bible_file"),
        type=["json"],
        key="bible_file",
        on_change=lambda: st.session_state.update(bible_import_report=None),
    )
    has_file = st.session_state.get("bible_file") is not None
    preview, apply = st.columns(2)
    preview.button(
        t.t("bible_preview_import"),
        key="bible_preview_import",
        disabled=not has_file,
        on_click=on_bible_import,
        args=(api, book["id"], True, t),
        use_container_width=True,
    )
    apply.button(
        t.t("bible_apply_import"),
        key="bible_apply_import",
        type="primary",
        disabled=not has_file,
        on_click=on_bible_import,
        args=(api, book["id"], False, t),
        use_container_width=True,
    )
    report: BibleImportReport | None = st.session_state.get("bible_import_report")
    if report is not None:
        show_report(report, t)


def show_report(report: BibleImportReport, t: Labels) -> None:
    st.markdown(
        t.t(
            "bible_report",
            created=len(report["created"]),
            updated=len(report["updated"]),
            conflicts=len(report["conflicts"]),
            skipped=len(report["skipped_facts"]),
        )
    )
    if report["conflicts"]:
        st.warning(t.t("bible_conflicts"))
        st.dataframe(
            [
                {
                    t.t("bible_col_name"): c.get("name", ""),
                    t.t("bible_col_field"): c.get("field", ""),
                    t.t("bible_col_existing"): str(c.get("existing", "")),
                    t.t("bible_col_incoming"): str(c.get("incoming", "")),
                }
                for c in report["conflicts"]
            ],
            hide_index=True,
            key="bible_conflicts_table",
        )
