"""Time to build the story bible of Dom Casmurro (148 chapters) through the jobs, and to bring it
up to date after one chapter changes — the deterministic pass (`use_llm=false`: name
candidates, the typed patterns and the cue words), as a CPU machine without a GPU server runs it.

Starts its own stack (Chroma server, a Celery worker on the index queue for the import and one
on the LLM's queue for the bible, the API, a SQLite catalog in a temporary folder, a spare Redis
database, `BIBLE_AUTO_EXTRACT=false` so that only the requested jobs run; no LLM), imports the
book once without the vector pass, then:
  (a) cold: `build_bible` (`force`) until the parent job succeeds (one `extract_facts` child per
      chapter, `FANOUT_WINDOW` at a time);
  (b) the same again with nothing changed (every chapter skipped by its text hash);
  (c) one chapter saved with a sentence more, then `build_bible` (one chapter extracted);
  (d) the same one chapter again, as its own `extract_facts` job (what a save triggers when
      `BIBLE_AUTO_EXTRACT` is on);
and the baseline of the same run: the extraction of the 148 chapters in this process, in book
order, with no jobs, queue or catalog (what the pipeline adds is the rest).

    PYTHONPATH=$PWD .venv/bin/python bench/bible_build.py [--redis-url redis://127.0.0.1:6379/13]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reindex import CORPUS, import_book, wait_job
from services.core.bible.aliases import KnownEntity
from services.core.bible.extraction import extract_chapter
from services.core.manuscripts.parsing import parse_manuscript
from services.launcher.processes import ProcessGroup
from services.launcher.stack import free_port, start_chroma_server, start_stack


def submit(
    api: httpx.Client, kind: str, book: str, chapter: str | None = None, **params: Any
) -> str:
    body: dict[str, Any] = {"kind": kind, "book_id": book, "params": params}
    if chapter is not None:
        body["chapter_id"] = chapter
    response = api.post("/jobs", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def timed(api: httpx.Client, job_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = wait_job(api, job_id, timeout=1800)
    return time.perf_counter() - started, done


def in_process(data: bytes) -> tuple[float, int, int]:
    """The baseline: every chapter extracted here, in order, the entities found so far known."""
    chapters = parse_manuscript(CORPUS.name, data, language="pt-BR").chapters
    known: list[KnownEntity] = []
    facts = 0
    started = time.perf_counter()
    for chapter in chapters:
        result = extract_chapter(chapter.text, language="pt-BR", llm=None, known=known)
        facts += len(result.facts)
        names = {k.name for k in known}
        known.extend(
            KnownEntity(e.name, e.name, e.kind, tuple(e.aliases))
            for e in result.entities
            if e.name not in names
        )
    return time.perf_counter() - started, len(known), facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    data = CORPUS.read_bytes()
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; load average at start {os.getloadavg()[0]:.2f}"
    )
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # use_llm=false: the LLM is never called
    with tempfile.TemporaryDirectory(prefix="copiloto-bench-") as tmp:
        group = ProcessGroup(Path(tmp) / "logs")
        stack = None
        try:
            chroma = start_chroma_server(group, Path(tmp) / "chroma")
            stack = start_stack(
                Path(tmp) / "bible",
                redis_url=args.redis_url,
                llm_url=dead_llm,
                log_dir=Path(tmp) / "logs" / "bible",
                chroma=chroma,
                extra_env={"BIBLE_AUTO_EXTRACT": "false"},
                with_worker=False,
            )
            stack.start_worker("index")  # the import
            stack.start_worker("llm")  # the bible's jobs
            with stack.client() as api:
                book = import_book(api, data)
                cold, cold_job = timed(
                    api, submit(api, "build_bible", book, force=True, use_llm=False)
                )
                again, again_job = timed(api, submit(api, "build_bible", book, use_llm=False))
                chapters = api.get(f"/books/{book}/chapters").json()
                changed = chapters[len(chapters) // 2]
                text = api.get(f"/chapters/{changed['id']}").json()["text"]
                saved = api.put(
                    "/chapter/update",
                    json={
                        "book_id": book,
                        "chapter_id": changed["id"],
                        "text": text + "\n\nCapitu tinha os olhos claros e grandes.",
                    },
                )
                saved.raise_for_status()
                one, one_job = timed(api, submit(api, "build_bible", book, use_llm=False))
                alone, _ = timed(
                    api,
                    submit(api, "extract_facts", book, changed["id"], force=True, use_llm=False),
                )
                listed = api.get(f"/books/{book}/bible/entities", params={"limit": 1}).json()
        finally:
            if stack is not None:
                stack.stop()
            group.stop()
    base_s, base_entities, base_facts = in_process(data)
    cold_result, again_result, one_result = (
        cold_job["result"],
        again_job["result"],
        one_job["result"],
    )
    assert again_result["skipped"] == 148, again_result
    assert one_result["extracted"] == 1, one_result

    print("\nDom Casmurro, 148 chapters, deterministic pass (use_llm=false)")
    print(
        f"  (a) cold build_bible (fan-out)         {cold:8.2f} s   {listed['total']} entities, "
        f"{cold_result.get('facts')} facts"
    )
    print(f"  (b) again, nothing changed             {again:8.2f} s")
    print(f"  (c) one chapter changed, build_bible   {one:8.2f} s")
    print(f"  (d) that chapter's extract_facts job   {alone:8.2f} s")
    print(
        f"  baseline: in this process, no jobs     {base_s:8.2f} s   {base_entities} entities, "
        f"{base_facts} facts"
    )
    print(f"  cold / in-process                      {cold / base_s:8.2f} x")
    print(f"  cold / one chapter changed             {cold / one:8.1f} x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
