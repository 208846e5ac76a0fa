"""Continuity audit evaluation (issue 16): planted contradictions and red herrings in the test
manuscripts of bench/continuity_set/ (see bench/continuity_set.py), scored for every system the
same way in one run.

Systems:
  baseline  regexes only: every pair of chapters where the same capitalised name has different
            colour words (or different numbers) within a few words of it is a finding;
  inproc    the audit's own code in this process, judge off: the story bible's names from
            `extract_chapter` (no LLM) chapter by chapter, then the candidates the
            `continuity_check` job would store (`candidates_for`), no stack needed;
  api       `--api URL`: a running stack; a new book per manuscript, the .md file uploaded to
            POST /books/{id}/import (as the product's import does), the import and the jobs it
            queues (indexing, automatic extraction) waited for, then `build_bible` and
            `continuity_check` (timed), and the findings read from the job result and
            GET /books/{id}/continuity/findings.
Per manuscript: recall on planted errors, the false-alarm rate on controls (controls matched by
some finding), precision (findings matching a planted error / all findings: a lower bound, the
prose may hold contradictions nobody planted), the share of findings whose cited chapters are a
planted pair, and the time.

    PYTHONPATH=$PWD .venv/bin/python bench/continuity_eval.py [--manuscripts a,b]
        [--systems baseline,inproc,api] [--api URL] [--api-token TOKEN] [--llm on|off]
        [--json out.json] [--details] [--check] [--rebuild] [--novels]

`--novels` audits each whole corpus novel in-process instead (no planted errors: every finding
is a false alarm or a real slip of the author's) and lists the findings with the time taken.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from bench.continuity_set import (
    SET_DIR,
    Annotation,
    Citation,
    Finding,
    Scores,
    baseline_findings,
    build_excerpt,
    load_annotation,
    manuscript_bytes,
    names,
    parse,
    problems,
    score,
    sum_scores,
)

TERMINAL = ("succeeded", "failed", "cancelled")
BIBLE_NOT_THERE = (
    "the story bible (issue 15) is not in this API yet: {what}. The continuity audit builds on "
    "it; run with --systems baseline."
)
NOT_THERE = (
    "the continuity audit (issue 16) is not in this API yet: {what}. The contract is at the end "
    "of BIBLE_CONTRACT.md; until it lands, run with --systems baseline."
)


def checked(annotation: Annotation) -> list[str]:
    """The manuscript's chapter texts in the product's split, after checking the annotation
    still fits it (a misfit stops the run)."""
    manuscript = parse(annotation)
    faults = problems(annotation, manuscript)
    if faults:
        raise SystemExit(
            f"{annotation.id}: the annotation does not fit the manuscript:\n  "
            + "\n  ".join(faults)
        )
    return [c.text for c in manuscript.chapters]


def run_baseline(annotation: Annotation, texts: list[str]) -> tuple[list[Finding], dict[str, Any]]:
    started = time.perf_counter()
    findings = baseline_findings(texts)
    return findings, {"seconds": round(time.perf_counter() - started, 3)}


def audit_inproc(texts: Sequence[str], language: str) -> list[Any]:
    """The candidates the `continuity_check` job would store (judge off), in this process: the
    bible's names from `extract_chapter` (no LLM) chapter by chapter, then `candidates_for`."""
    from services.core.bible.aliases import KnownEntity
    from services.core.bible.extraction import extract_chapter
    from services.core.continuity.candidates import ChapterDoc
    from services.core.continuity.service import BookText, audit_names, candidates_for

    known: dict[str, KnownEntity] = {}
    for text in texts:
        extraction = extract_chapter(text, language=language, llm=None, known=list(known.values()))
        for entity in extraction.entities:
            old = known.get(entity.name)
            aliases = tuple(sorted({*(old.aliases if old else ()), *entity.aliases}))
            kind = old.kind if old else entity.kind  # the bible keeps an entity's first kind
            known[entity.name] = KnownEntity(entity.name, entity.name, kind, aliases)
    names = audit_names(texts, known.values())
    chapters = [ChapterDoc(f"c{i}", i, f"{i}", 1, t) for i, t in enumerate(texts, 1)]
    return candidates_for(BookText(language, chapters, {}, names))


def run_inproc(annotation: Annotation, texts: list[str]) -> tuple[list[Finding], dict[str, Any]]:
    from services.core.continuity.service import explain

    started = time.perf_counter()
    findings = [
        Finding(
            citations=tuple(Citation(c.chapter.position, c.quote) for c in candidate.citations),
            type=candidate.type,
            entity=candidate.entity or "",
            attribute=candidate.attribute or "",
            explanation=explain(candidate, annotation.language),
        )
        for candidate in audit_inproc(texts, annotation.language)
    ]
    return findings, {"seconds": round(time.perf_counter() - started, 2)}


def whole_novels() -> None:
    """The audit in-process over each whole corpus novel (no planted errors there: every
    finding is a false alarm or a slip of the author's), with its time."""
    from bench.bible_set import NOVELS, parse_novel

    for novel, language in NOVELS.items():
        texts = [c.text for c in parse_novel(novel).chapters]
        started = time.perf_counter()
        found = audit_inproc(texts, language)
        seconds = time.perf_counter() - started
        reasons: dict[str, int] = {}
        for candidate in found:
            reasons[candidate.reason] = reasons.get(candidate.reason, 0) + 1
        print(
            f"{novel}: {len(texts)} chapters, {len(found)} findings {dict(sorted(reasons.items()))}"
            f" in {seconds:.1f} s"
        )
        for candidate in found:
            print(
                f"  {candidate.reason:8} {candidate.entity or '-'} "
                + " | ".join(
                    f"ch{c.chapter.position}: {c.quote[:70]!r}" for c in candidate.citations
                )
            )


def finding_from_api(raw: dict[str, Any], position_of: dict[str, int]) -> Finding:
    """A contract Finding as the scorer's: citations by chapter position (the id mapped through
    this book's chapters, else `chapter_position`)."""
    citations = []
    for cite in raw.get("citations") or []:
        position = position_of.get(str(cite.get("chapter_id")))
        if position is None:
            position = int(cite.get("chapter_position") or 0)
        citations.append(Citation(position, str(cite.get("quote") or "")))
    return Finding(
        citations=tuple(citations),
        type=str(raw.get("type") or ""),
        entity=str(raw.get("entity") or ""),
        attribute=str(raw.get("attribute") or ""),
        explanation=str(raw.get("explanation") or ""),
    )


def run_api(
    annotation: Annotation, texts: list[str], url: str, token: str | None, use_llm: bool
) -> tuple[list[Finding], dict[str, Any]]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=300) as api:

        def ok(response: httpx.Response) -> Any:
            if response.is_error:
                raise SystemExit(
                    f"{response.request.method} {response.request.url}: "
                    f"{response.status_code} {response.text[:500]}"
                )
            return response.json()

        def wait(job_id: str, timeout: float = 4 * 3600) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while True:
                job: dict[str, Any] = ok(api.get(f"/jobs/{job_id}"))
                if job["status"] in TERMINAL:
                    return job
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} still {job['status']} after {timeout:.0f}s")
                time.sleep(1)

        def settle(book_id: str) -> None:
            """Wait for every job of the book (import, indexing, automatic extraction)."""
            while True:
                jobs = ok(api.get("/jobs", params={"book_id": book_id, "limit": 500}))["items"]
                if all(j["status"] in TERMINAL for j in jobs):
                    return
                time.sleep(2)

        def submit(kind: str, book_id: str, params: dict[str, Any]) -> dict[str, Any]:
            response = api.post("/jobs", json={"kind": kind, "book_id": book_id, "params": params})
            if kind == "continuity_check" and response.status_code in (400, 404, 422):
                raise SystemExit(
                    NOT_THERE.format(
                        what=f"POST /jobs answered {response.status_code} {response.text[:300]}"
                    )
                )
            job: dict[str, Any] = ok(response)
            return job

        # Before anything is created: does the API know the two job kinds? An unknown kind is
        # refused with "unknown job kind" (no book needed to find out).
        for kind, message in (("build_bible", BIBLE_NOT_THERE), ("continuity_check", NOT_THERE)):
            probe = api.post("/jobs", json={"kind": kind, "params": {}})
            if probe.is_error and "unknown job kind" in probe.text:
                raise SystemExit(message.format(what=f"POST /jobs answered {probe.text[:200]}"))

        title = f"continuity-eval {annotation.id} {time.strftime('%Y-%m-%d %H:%M:%S')}"
        book_id = ok(api.post("/books", json={"title": title, "language": annotation.language}))[
            "id"
        ]
        started = time.perf_counter()
        imported = ok(
            api.post(
                f"/books/{book_id}/import",
                files={"file": (annotation.file, manuscript_bytes(annotation), "text/markdown")},
            )
        )
        job = wait(str(imported.get("job_id") or imported["id"]))
        if job["status"] != "succeeded":
            raise SystemExit(f"import of {annotation.file}: {job['status']} {job.get('error')}")
        settle(book_id)
        import_s = time.perf_counter() - started
        chapters = ok(api.get(f"/books/{book_id}/chapters"))
        if len(chapters) != len(texts):
            raise SystemExit(
                f"{annotation.id}: the import made {len(chapters)} chapters, the split here "
                f"{len(texts)}"
            )
        position_of = {str(c["id"]): i for i, c in enumerate(chapters, 1)}
        started = time.perf_counter()
        bible = wait(submit("build_bible", book_id, {"force": True, "use_llm": use_llm})["id"])
        bible_s = time.perf_counter() - started
        if bible["status"] != "succeeded":
            print(f"    build_bible {bible['status']}: {bible.get('error')}", flush=True)
        started = time.perf_counter()
        audit = wait(
            submit("continuity_check", book_id, {"chapter_ids": None, "force": True})["id"]
        )
        audit_s = time.perf_counter() - started
        if audit["status"] != "succeeded":
            print(f"    continuity_check {audit['status']}: {audit.get('error')}", flush=True)
        result = audit.get("result") or {}
        raw = list(result.get("findings") or [])
        listed = api.get(f"/books/{book_id}/continuity/findings", params={"limit": 1000})
        if listed.status_code == 404 and not raw:
            raise SystemExit(NOT_THERE.format(what="GET /continuity/findings answered 404"))
        if listed.is_success:
            known = {str(f.get("id")) for f in raw}
            raw += [f for f in listed.json().get("items", []) if str(f.get("id")) not in known]
    findings = [finding_from_api(f, position_of) for f in raw]
    return findings, {
        "seconds": round(bible_s + audit_s, 2),
        "import_s": round(import_s, 2),
        "build_bible_s": round(bible_s, 2),
        "continuity_check_s": round(audit_s, 2),
        "book_id": book_id,
        "bible": bible.get("result"),
        "job": {k: v for k, v in result.items() if k != "findings"},
        "job_status": audit["status"],
        "job_error": audit.get("error"),
    }


# --- report ----------------------------------------------------------------------------------

COLUMNS = [
    ("errors", "planted"),
    ("found", "found"),
    ("recall", "recall"),
    ("controls", "ctrls"),
    ("alarms", "alarms"),
    ("false_alarm_rate", "FA rate"),
    ("findings", "findings"),
    ("precision_lower_bound", "prec>="),
    ("right_chapters", "ch right"),
    ("seconds", "s"),
]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if value <= 1 else f"{value:.1f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'manuscript':26} {'system':14} " + " ".join(f"{label:>8}" for _, label in COLUMNS)
    print(head)
    print("-" * len(head))
    for row in rows:
        cells = " ".join(f"{_cell(row.get(key)):>8}" for key, _ in COLUMNS)
        print(f"{row['manuscript']:26} {row['system']:14} {cells}")


def details(scores: Scores, findings: Sequence[Finding], limit: int = 40) -> dict[str, Any]:
    return {
        "found": scores.found,
        "missed": scores.missed,
        "alarms": scores.alarms,
        "recall_by_type": scores.summary()["recall_by_type"],
        "findings": [
            {
                "chapters": [c.chapter for c in f.citations],
                "entity": f.entity,
                "attribute": f.attribute,
                "explanation": f.explanation[:200],
            }
            for f in findings[:limit]
        ],
    }


def rebuild() -> None:
    """Write the corpus excerpts again from the corpus and their annotations' edits."""
    for name in names():
        annotation = load_annotation(name)
        if annotation.build is not None:
            (SET_DIR / annotation.file).write_text(build_excerpt(annotation.build), "utf-8")
            print(f"wrote {annotation.file}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manuscripts", default=",".join(names()))
    parser.add_argument("--systems", default="baseline,inproc", help="baseline,inproc,api")
    parser.add_argument("--api", help="base URL of a running Copiloto API (adds the api system)")
    parser.add_argument("--api-token", default=os.environ.get("API_TOKEN"))
    parser.add_argument("--llm", default="on", help="build_bible's use_llm in api mode: on/off")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--details", action="store_true", help="print misses and findings")
    parser.add_argument("--check", action="store_true", help="only validate the set")
    parser.add_argument("--rebuild", action="store_true", help="rewrite the corpus excerpts")
    parser.add_argument(
        "--novels", action="store_true", help="only audit the whole corpus novels (false alarms)"
    )
    args = parser.parse_args(argv)
    if args.novels:
        whole_novels()
        return

    if args.rebuild:
        rebuild()
    selected = [n for n in args.manuscripts.split(",") if n]
    unknown = set(selected) - set(names())
    if unknown:
        raise SystemExit(f"unknown manuscripts {sorted(unknown)}: choose from {names()}")
    systems = [s for s in args.systems.split(",") if s]
    if args.api and "api" not in systems:
        systems.append("api")
    if "api" in systems and not args.api:
        raise SystemExit("--systems api needs --api URL")
    if not set(systems) <= {"baseline", "inproc", "api"}:
        raise SystemExit("--systems takes baseline, inproc and/or api")
    if args.llm not in ("on", "off"):
        raise SystemExit("--llm takes on or off")
    annotations = [load_annotation(n) for n in selected]
    texts = {a.id: checked(a) for a in annotations}
    if args.check:
        for a in annotations:
            print(
                f"{a.id}: {len(texts[a.id])} chapters, {len(a.errors)} planted errors, "
                f"{len(a.controls)} controls: sound"
            )
        return

    print(
        f"# continuity evaluation · {platform.node()} · {os.cpu_count()} cores · "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    per_system: dict[str, list[Scores]] = {}
    extra: dict[str, Any] = {}
    for annotation in annotations:
        runs: list[tuple[str, Callable[[], tuple[list[Finding], dict[str, Any]]]]] = []
        if "baseline" in systems:
            runs.append(("baseline", partial(run_baseline, annotation, texts[annotation.id])))
        if "inproc" in systems:
            runs.append(("inproc", partial(run_inproc, annotation, texts[annotation.id])))
        if "api" in systems:
            runs.append(
                (
                    f"api llm={args.llm}",
                    partial(
                        run_api,
                        annotation,
                        texts[annotation.id],
                        args.api,
                        args.api_token,
                        args.llm == "on",
                    ),
                )
            )
        for system, run in runs:
            print(f"  {annotation.id} · {system}", flush=True)
            findings, info = run()
            scores = score(annotation, findings)
            scores.seconds = info.get("seconds")
            rows.append({"manuscript": annotation.id, "system": system, **scores.summary()})
            per_system.setdefault(system, []).append(scores)
            extra[f"{annotation.id} · {system}"] = {"info": info, **details(scores, findings)}
            if args.details:
                print(json.dumps(details(scores, findings), ensure_ascii=False, indent=1))
    if len(annotations) > 1:
        for system, parts in per_system.items():
            rows.append({"manuscript": "all", "system": system, **sum_scores(parts).summary()})
    print()
    print_table(rows)
    print(
        "\nprec>= is a lower bound: a finding that matches no planted error may still be a real "
        "contradiction nobody planted (above all in the corpus novels). 'ch right': findings "
        "whose cited chapters are a planted error's two chapters."
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"rows": rows, "details": extra}, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
