"""Story bible evaluation (issue 15): entities, aliases and facts extracted from hand-annotated
chapters of the corpus novels, against the gold in bench/bible_gold/ (see bench/bible_set.py).

Systems, scored the same way in one run:
  baseline  every capitalised word that does not start a sentence is an entity (no facts);
  inproc    `services.core.bible.extraction.extract_chapter` on each annotated chapter in book
            order, the entities found so far passed on as `known`; `--llm off` (deterministic
            candidates only) and/or `--llm on` (the project's LLM client on the server given by
            `--llm-url`, or the packaged llama.cpp model started here);
  api       `--api URL`: a running stack; a new book gets the annotated chapters (one
            /chapter/save each, in order), the `build_bible` job runs (timed), and
            /bible/entities and /bible/entities/{id} are read back.
Per novel it reports entity recall (characters, places) and precision per chapter, alias-merge
accuracy and wrong merges, fact recall, fact precision (a lower bound: the gold is not every
true fact, so `facts_without_gold` are not all wrong) and the share of verbatim quotes
(`text[start:end] == quote`, must be 100 %).

    PYTHONPATH=$PWD .venv/bin/python bench/bible_eval.py [--novels dom-casmurro,pride-and-prejudice]
        [--systems baseline,inproc] [--llm off,on] [--llm-url URL]
        [--api URL] [--api-token TOKEN] [--max-chapters N] [--json out.json] [--details]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.bible_set import (
    NOVELS,
    Gold,
    PredEntity,
    PredFact,
    Prediction,
    Scores,
    baseline_prediction,
    fold,
    load_gold,
    parse_novel,
    problems,
    restrict,
    score,
    sum_scores,
)

ROOT = Path(__file__).resolve().parents[1]

TERMINAL = ("succeeded", "failed", "cancelled")


def chapter_texts(gold: Gold) -> dict[int, str]:
    """The annotated chapters' texts, from the product's own split, after checking the gold
    still fits it (a changed split stops the run)."""
    manuscript = parse_novel(gold.novel)
    faults = problems(gold, manuscript)
    if faults:
        raise SystemExit(
            f"{gold.novel}: the gold does not fit the novel:\n  " + "\n  ".join(faults)
        )
    return {c.position: manuscript.chapters[c.position - 1].text for c in gold.chapters}


def _field(item: Any, names: Sequence[str], index: int) -> Any:
    """A field of an extraction result (the contract gives the order of its fields): an
    attribute or mapping key under one of `names`, else the value at `index`."""
    for name in names:
        if isinstance(item, dict) and name in item:
            return item[name]
        if not isinstance(item, dict) and hasattr(item, name):
            return getattr(item, name)
    if isinstance(item, Sequence):
        return item[index]
    raise SystemExit(f"extraction result {item!r} has none of the fields {list(names)}")


class Book:
    """Entities across chapters, merged the way `known` tells the extractor: a name already
    seen is the same entity."""

    def __init__(self) -> None:
        self.prediction = Prediction()
        self.by_name: dict[str, str] = {}

    def entity(self, name: str, kind: str = "", aliases: Sequence[str] = ()) -> str:
        names = [n for n in (name, *aliases) if n and n.strip()]
        key = next((self.by_name[fold(n)] for n in names if fold(n) in self.by_name), None)
        if key is None:
            key = f"e{len(self.prediction.entities) + 1}"
            self.prediction.entities[key] = PredEntity(key=key, name=name, kind=kind)
        entity = self.prediction.entities[key]
        entity.kind = entity.kind or kind
        for n in names:
            if fold(n) not in entity.names:
                entity.aliases.append(n)
            self.by_name.setdefault(fold(n), key)
        return key


def known_entities(book: Book, factory: Callable[..., Any]) -> list[Any]:
    """The book's entities as the extractor's `KnownEntity`, whatever fields it declares."""
    wanted = (
        {f.name for f in dataclasses.fields(factory)}
        if dataclasses.is_dataclass(factory)
        else {"id", "name", "kind", "aliases"}
    )
    known = []
    for entity in book.prediction.entities.values():
        values = {
            "id": entity.key,
            "name": entity.name,
            "kind": entity.kind or "character",
            "aliases": tuple(entity.aliases),
        }
        known.append(factory(**{k: v for k, v in values.items() if k in wanted}))
    return known


def import_extraction() -> tuple[Any, Any]:
    try:
        from services.core.bible import extraction
    except ImportError as exc:
        raise SystemExit(
            "services.core.bible.extraction is not there yet (the story bible, issue 15, has "
            f"not landed on this branch): {exc}. Run with --systems baseline."
        ) from exc
    factory = getattr(extraction, "KnownEntity", None)
    if factory is None:
        from services.core.bible import aliases

        factory = aliases.KnownEntity
    return extraction, factory


def run_baseline(gold: Gold, texts: dict[int, str]) -> tuple[Prediction, dict[str, Any]]:
    started = time.perf_counter()
    prediction = baseline_prediction(gold, texts)
    return prediction, {"seconds": round(time.perf_counter() - started, 2)}


def run_inprocess(gold: Gold, texts: dict[int, str], llm: Any) -> tuple[Prediction, dict[str, Any]]:
    extraction, factory = import_extraction()
    book = Book()
    seconds: dict[int, float] = {}
    per_chapter: dict[int, dict[str, Any]] = {}
    for position in sorted(texts):
        text = texts[position]
        known = known_entities(book, factory)
        started = time.perf_counter()
        result = extraction.extract_chapter(text, language=gold.language, llm=llm, known=known)
        seconds[position] = time.perf_counter() - started
        present: set[str] = set()
        for item in result.entities:
            name = str(_field(item, ("name",), 0))
            kind = str(_field(item, ("kind",), 1) or "")
            aliases = [str(a) for a in (_field(item, ("aliases",), 2) or ())]
            present.add(book.entity(name, kind, aliases))
        book.prediction.presence[position] = present
        for item in result.facts:
            quote = str(_field(item, ("quote",), 3))
            start, end = (
                int(_field(item, ("start", "quote_start"), 4)),
                int(_field(item, ("end", "quote_end"), 5)),
            )
            book.prediction.facts.append(
                PredFact(
                    entity=book.entity(str(_field(item, ("entity_name", "entity"), 0))),
                    chapter=position,
                    attribute=str(_field(item, ("attribute",), 1)),
                    value=str(_field(item, ("value",), 2)),
                    quote=quote,
                    verbatim=0 <= start <= end <= len(text) and text[start:end] == quote,
                )
            )
        # What the extractor says about itself, when it says it (quotes it dropped, windows).
        notes = {
            name: getattr(result, name)
            for name in ("dropped_quotes", "windows", "failed_windows", "used_llm")
            if hasattr(result, name)
        }
        per_chapter[position] = {"seconds": round(seconds[position], 2), **notes}
        print(
            f"    ch{position:<4} {len(result.entities):3d} entities {len(result.facts):3d} facts "
            f"{seconds[position]:6.1f}s {notes}",
            flush=True,
        )
    return book.prediction, {"seconds": round(sum(seconds.values()), 2), "per_chapter": per_chapter}


def run_api(
    gold: Gold, texts: dict[int, str], url: str, token: str | None, use_llm: bool
) -> tuple[Prediction, dict[str, Any]]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    manuscript = parse_novel(gold.novel)
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120) as api:

        def ok(response: httpx.Response) -> Any:
            if response.is_error:
                raise SystemExit(
                    f"{response.request.method} {response.request.url}: "
                    f"{response.status_code} {response.text[:500]}"
                )
            return response.json()

        def wait(job_id: str, timeout: float = 7200) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while True:
                job: dict[str, Any] = ok(api.get(f"/jobs/{job_id}"))
                if job["status"] in TERMINAL:
                    return job
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} still {job['status']} after {timeout:.0f}s")
                time.sleep(0.5)

        def settle(book_id: str) -> None:
            """Wait for the jobs the saves queued (indexing, automatic extraction)."""
            while True:
                jobs = ok(api.get("/jobs", params={"book_id": book_id, "limit": 500}))["items"]
                if all(j["status"] in TERMINAL for j in jobs):
                    return
                time.sleep(1)

        title = f"bible-eval {gold.novel} {time.strftime('%Y-%m-%d %H:%M:%S')}"
        book_id = ok(api.post("/books", json={"title": title, "language": gold.language}))["id"]
        position_of: dict[str, int] = {}
        for position in sorted(texts):
            saved = ok(
                api.post(
                    "/chapter/save",
                    json={
                        "book_id": book_id,
                        "title": manuscript.chapters[position - 1].title,
                        "text": texts[position],
                    },
                )
            )
            position_of[saved["chapter_id"]] = position
        settle(book_id)
        started = time.perf_counter()
        job = ok(
            api.post(
                "/jobs",
                json={
                    "kind": "build_bible",
                    "book_id": book_id,
                    "params": {"force": True, "use_llm": use_llm},
                },
            )
        )
        done = wait(job["id"])
        build_s = time.perf_counter() - started
        if done["status"] != "succeeded":  # scored all the same: what it did store counts
            print(f"    build_bible {done['status']}: {done.get('error')}", flush=True)
        stored = {cid: ok(api.get(f"/chapters/{cid}"))["text"] for cid in position_of}
        prediction = Prediction(presence={p: set() for p in texts})
        items: list[dict[str, Any]] = []
        while True:
            page = ok(
                api.get(
                    f"/books/{book_id}/bible/entities",
                    params={"limit": 100, "offset": len(items)},
                )
            )
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                break
        for item in items:
            key = str(item["id"])
            prediction.entities[key] = PredEntity(
                key=key, name=item["name"], kind=item["kind"], aliases=list(item["aliases"])
            )
            for chapter_id in item.get("chapters", []):
                if chapter_id in position_of:
                    prediction.presence[position_of[chapter_id]].add(key)
            detail = ok(api.get(f"/books/{book_id}/bible/entities/{key}"))
            for fact in detail.get("facts", []):
                chapter_id = fact["chapter_id"]
                if chapter_id not in position_of:
                    continue
                text = stored[chapter_id]
                start, end = int(fact["start"]), int(fact["end"])
                prediction.facts.append(
                    PredFact(
                        entity=key,
                        chapter=position_of[chapter_id],
                        attribute=fact["attribute"],
                        value=fact["value"],
                        quote=fact["quote"],
                        verbatim=0 <= start <= end <= len(text)
                        and text[start:end] == fact["quote"],
                    )
                )
        # One chapter changed: what re-extraction costs (the save's own extraction job, when
        # BIBLE_AUTO_EXTRACT is on, then a plain build_bible that should skip the rest).
        changed = min(position_of, key=lambda cid: position_of[cid])
        addition = {"en": "A new sentence.", "pt-BR": "Uma frase nova."}.get(gold.language, "")

        def extract_jobs() -> list[dict[str, Any]]:
            params = {"book_id": book_id, "kind": "extract_facts", "limit": 500}
            items: list[dict[str, Any]] = ok(api.get("/jobs", params=params))["items"]
            return items

        before = {j["id"] for j in extract_jobs()}
        started = time.perf_counter()
        ok(
            api.put(
                "/chapter/update",
                json={
                    "book_id": book_id,
                    "chapter_id": changed,
                    "text": stored[changed] + "\n\n" + addition,
                },
            )
        )
        settle(book_id)
        again = ok(
            api.post(
                "/jobs",
                json={"kind": "build_bible", "book_id": book_id, "params": {"use_llm": use_llm}},
            )
        )
        again_done = wait(again["id"])
        if again_done["status"] != "succeeded":
            print(
                f"    build_bible after one change {again_done['status']}: "
                f"{again_done.get('error')}",
                flush=True,
            )
        changed_s = time.perf_counter() - started
        auto_s = [
            j["duration_s"]
            for j in extract_jobs()
            if j["id"] not in before and j["chapter_id"] == changed and j["duration_s"]
        ]
    return prediction, {
        "seconds": round(build_s, 2),
        "book_id": book_id,
        "job": done.get("result"),
        "job_status": done["status"],
        "job_error": done.get("error"),
        "changed_chapter_s": round(changed_s, 2),
        "changed_chapter_rerun": again_done.get("result"),
        "changed_chapter_auto_extract_s": auto_s,
    }


def make_llm(url: str | None, group: Any) -> Any:
    from services.core.config import Settings
    from services.core.llm.client import LLMClient

    if not url:
        from services.launcher.stack import start_llm_server

        url = start_llm_server(group)
    settings = Settings(_env_file=None, LLM_BASE_URL=url)
    return LLMClient(settings)


# --- report ----------------------------------------------------------------------------------

COLUMNS = [
    ("character_recall", "char R"),
    ("place_recall", "place R"),
    ("entity_precision", "ent P"),
    ("kind_accuracy", "kind"),
    ("merge_accuracy", "merge"),
    ("wrong_merges", "bad mrg"),
    ("malformed_names", "bad name"),
    ("fact_recall", "fact R"),
    ("fact_precision_lower_bound", "fact P>="),
    ("facts_without_gold", "no gold"),
    ("verbatim_quotes", "verbatim"),
    ("seconds", "s"),
    ("changed_chapter_s", "1 chg s"),
]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if value <= 1 else f"{value:.1f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'novel':20} {'system':16} " + " ".join(f"{label:>8}" for _, label in COLUMNS)
    print(head)
    print("-" * len(head))
    for row in rows:
        cells = " ".join(f"{_cell(row.get(key)):>8}" for key, _ in COLUMNS)
        print(f"{row['novel']:20} {row['system']:16} {cells}")


def details(name: str, scores: Scores) -> dict[str, Any]:
    return {
        "chapters": [
            {
                "position": c.position,
                "missed": c.missed,
                "spurious": c.spurious,
                "predicted": c.predicted,
                "found": c.found,
                "required": c.required,
            }
            for c in scores.chapters
        ],
        "malformed_names": scores.malformed,
        "split_aliases": scores.merges.split,
        "wrong_merges": scores.merges.wrongly_merged,
        "missed_facts": scores.facts.missed,
        "facts_without_gold": scores.facts.unmatched,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--novels", default=",".join(NOVELS))
    parser.add_argument("--systems", default="baseline,inproc", help="baseline,inproc,api")
    parser.add_argument("--llm", default="off", help="off, on or off,on (inproc and api)")
    parser.add_argument("--llm-url", help="OpenAI-compatible server; else start the packaged one")
    parser.add_argument("--api", help="base URL of a running Copiloto API (adds the api system)")
    parser.add_argument("--api-token", default=os.environ.get("API_TOKEN"))
    parser.add_argument(
        "--max-chapters", type=int, help="only the first N annotated chapters (a quick check)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--details", action="store_true", help="print misses and extras")
    args = parser.parse_args(argv)

    systems = [s for s in args.systems.split(",") if s]
    if args.api and "api" not in systems:
        systems.append("api")
    if "api" in systems and not args.api:
        raise SystemExit("--systems api needs --api URL")
    modes = [m for m in args.llm.split(",") if m]
    if not set(modes) <= {"off", "on"}:
        raise SystemExit("--llm takes off, on or off,on")
    novels = [n for n in args.novels.split(",") if n]
    unknown = set(novels) - set(NOVELS)
    if unknown:
        raise SystemExit(f"unknown novels {sorted(unknown)}: choose from {sorted(NOVELS)}")
    if "inproc" in systems:
        import_extraction()  # fail before any work if the bible is not there

    print(
        f"# story bible evaluation · {platform.node()} · {os.cpu_count()} cores · "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    group = None
    llm = None
    rows: list[dict[str, Any]] = []
    per_system: dict[str, list[Scores]] = {}
    extra: dict[str, Any] = {}
    try:
        if "inproc" in systems and "on" in modes:
            from services.launcher.processes import ProcessGroup

            group = ProcessGroup(ROOT / "test-artifacts" / "logs" / "bench-bible")
            llm = make_llm(args.llm_url, group)
            print(f"# LLM: {llm.server_info()}", flush=True)
        for novel in novels:
            gold = load_gold(novel)
            texts = chapter_texts(gold)
            if args.max_chapters:
                gold = restrict(gold, sorted(texts)[: args.max_chapters])
                texts = {p: t for p, t in texts.items() if gold.chapter(p) is not None}
            runs: list[tuple[str, Callable[[], tuple[Prediction, dict[str, Any]]]]] = []
            if "baseline" in systems:
                runs.append(("baseline", partial(run_baseline, gold, texts)))
            for mode in modes:
                if "inproc" in systems:
                    runs.append(
                        (
                            f"inproc llm={mode}",
                            partial(run_inprocess, gold, texts, llm if mode == "on" else None),
                        )
                    )
                if "api" in systems:
                    runs.append(
                        (
                            f"api llm={mode}",
                            partial(run_api, gold, texts, args.api, args.api_token, mode == "on"),
                        )
                    )
            for system, run in runs:
                print(f"  {novel} · {system}", flush=True)
                prediction, info = run()
                scores = score(gold, prediction)
                row = {"novel": novel, "system": system, **scores.summary()}
                row["seconds"] = info.get("seconds")
                row["changed_chapter_s"] = info.get("changed_chapter_s")
                rows.append(row)
                per_system.setdefault(system, []).append(scores)
                extra[f"{novel} · {system}"] = {"info": info, **details(novel, scores)}
                if args.details:
                    print(json.dumps(details(novel, scores), ensure_ascii=False, indent=1))
        if len(novels) > 1:
            for system, parts in per_system.items():
                rows.append({"novel": "both", "system": system, **sum_scores(parts).summary()})
    finally:
        if group is not None:
            group.stop()
    print()
    print_table(rows)
    print(
        "\nfact P>= is a lower bound: the gold is not every true fact of a chapter, so a fact "
        "without a gold counterpart is not necessarily wrong ('no gold' counts them)."
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "details": extra}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
