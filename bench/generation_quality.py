"""Quality floor of free-text generation on the CPU model: loops, echoes, language, time.

For suggest, critique, ask and expand on a few chapters of each corpus novel and of a short
original (bench/texts/, pt-BR and en), the prompts are built as the job handlers build them
(memory passages come from a word-overlap search of the other chapters, so no Chroma is needed)
and sent to a real LLM server, under two variants in the same run:

  before  the behaviour before issue 18: full prompts, temperature only, no guard, no checks;
  after   the kind's sampling with the engine's repetition extras, the loop guard with its retry,
          the output checks, and the prompt profile chosen for the served model (compact for
          SmolLM2-135M).

Per variant and kind it reports the repeated-4-gram share (median, max), distinct-2, the share
stopped by the guard, the share flagged to the author, results above 0.4 shown as a plain
success, prompt-echo rate, output in the book's language, tokens and seconds per result.

    .venv/bin/python bench/generation_quality.py [--engine llamacpp|vllm] [--llm-url URL]
        [--variants before,after] [--kinds suggest,critique,ask,expand] [--chapters 2]
        [--max-tokens 512] [--json out.json]

LLM_SAMPLING / LLM_* settings in the environment apply to the `after` variant (a sweep of the
defaults is a loop over LLM_SAMPLING values).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.core.config import Settings
from services.core.llm.client import LLMClient
from services.core.llm.generation import GenerationOptions, generate_text
from services.core.llm.output_checks import EmptyOutputError, echo_found
from services.core.llm.profile import PromptBudget, prompt_budget, resolve_profile
from services.core.llm.prompts import load_prompt, template_language
from services.core.llm.repetition import distinct_n, repeated_ngram_share, words
from services.core.llm.sampling import sampling_for
from services.core.manuscripts.parsing import parse_manuscript
from services.core.memory.chunking import chapter_chunks
from services.core.memory.store import Passage
from services.core.writing.bible_context import NOTHING as NO_BIBLE
from services.core.writing.critique import NO_FOCUS, fit_for_review
from services.core.writing.expand import NO_IDEA
from services.core.writing.progress import passages_for_prompt
from services.core.writing.suggest import NO_REQUEST, fit_chapter_text
from services.launcher.processes import ProcessGroup

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
TEXTS = ROOT / "bench" / "texts"


@dataclass(frozen=True)
class Book:
    name: str
    path: Path
    language: str
    question: str
    chapters: tuple[int, ...]  # 0-based indexes of the chapters to work on


BOOKS = [
    Book("dom-casmurro", CORPUS / "dom-casmurro.txt", "pt-BR", "Quem é José Dias?", (2, 4, 6)),
    Book(
        "pride-and-prejudice",
        CORPUS / "pride-and-prejudice.txt",
        "en",
        "Who is Mr. Bingley?",
        (2, 4, 6),
    ),
    Book(
        "a-ilha-do-farol",
        TEXTS / "a-ilha-do-farol.pt-BR.md",
        "pt-BR",
        "De que cor são os olhos de Ana?",
        (2, 3),
    ),
    Book(
        "the-lighthouse-island",
        TEXTS / "the-lighthouse-island.en.md",
        "en",
        "What colour are Ana's eyes?",
        (2, 3),
    ),
]
EXPAND_REQUEST = {
    "pt-BR": "Continue a história a partir do fim do capítulo.",
    "en": "Continue the story from the end of the chapter.",
}
# A tiny stopword vote is enough to tell Portuguese from English.
STOPWORDS = {
    "pt-BR": set(
        [
            "de",
            "que",
            "não",
            "uma",
            "para",
            "com",
            "os",
            "as",
            "do",
            "da",
            "dos",
            "das",
            "em",
            "um",
            "se",
            "na",
            "no",
            "nas",
            "nos",
            "ao",
            "é",
            "mais",
            "mas",
            "como",
            "ele",
            "ela",
            "eles",
            "elas",
            "seu",
            "sua",
            "foi",
            "era",
            "muito",
            "também",
            "isso",
            "este",
            "esta",
            "pelo",
            "pela",
        ]
    ),
    "en": set(
        [
            "the",
            "and",
            "of",
            "to",
            "is",
            "was",
            "he",
            "she",
            "it",
            "that",
            "with",
            "for",
            "his",
            "her",
            "not",
            "you",
            "be",
            "on",
            "at",
            "as",
            "but",
            "they",
            "this",
            "had",
            "have",
            "were",
            "which",
            "would",
            "from",
            "there",
            "their",
            "been",
            "what",
            "when",
        ]
    ),
}


def output_language(text: str) -> str | None:
    tokens = words(text)
    votes = {lang: sum(t in stop for t in tokens) for lang, stop in STOPWORDS.items()}
    best = max(votes, key=lambda lang: votes[lang])
    return best if votes[best] >= 3 and votes[best] > 1.5 * min(votes.values()) else None


def load_book(book: Book) -> list[tuple[str, str]]:
    manuscript = parse_manuscript(book.path.name, book.path.read_bytes(), language=book.language)
    return [(c.title, c.text) for c in manuscript.chapters]


def search(
    chapters: list[tuple[str, str]], query: str, k: int, keep: Callable[[int], bool]
) -> list[Passage]:
    """Word-overlap retrieval over the chapters' memory passages (the real chunking)."""
    wanted = set(words(query))
    scored: list[Passage] = []
    for i, (title, text) in enumerate(chapters):
        if not keep(i):
            continue
        for chunk in chapter_chunks(title, text):
            overlap = len(wanted & set(words(chunk.text))) / (len(wanted) or 1)
            scored.append(
                Passage(f"c{i}:{chunk.index}", f"c{i}", title, i + 1, "chunk", overlap, chunk.text)
            )
    return sorted(scored, key=lambda p: p.score, reverse=True)[:k]


def build(
    kind: str, book: Book, chapters: list[tuple[str, str]], index: int, plan: PromptBudget
) -> list[dict[str, str]]:
    """The prompt the job handler would send for this chapter."""
    lang = template_language(book.language)
    title, text = chapters[index]
    not_given = "(não informado)" if lang == "pt-BR" else "(not given)"
    prompt = load_prompt(kind, book.language, plan.profile)
    if kind == "suggest":
        found = search(chapters, text[-500:], 3, lambda i: i != index)
        _, memory = passages_for_prompt(found, plan, book.language)
        fitted, _ = fit_chapter_text(text, plan.chapter_chars)
        return prompt.render(
            bible=NO_BIBLE[lang],
            memory=memory,
            book_title=book.name,
            genre=not_given,
            synopsis=not_given,
            chapter_title=title,
            chapter_text=fitted,
            instructions=NO_REQUEST[lang],
            paths="3",
        )
    if kind == "critique":
        query = text[:1000] + " " + text[-1000:]
        found = search(chapters, query, 5, lambda i: i < index)
        found = sorted(found, key=lambda p: p.position)
        _, passages = passages_for_prompt(found, plan, book.language)
        fitted, _ = fit_for_review(text, plan.chapter_chars)
        return prompt.render(
            bible=NO_BIBLE[lang],
            book_title=book.name,
            genre=not_given,
            passages=passages,
            chapter_position=str(index + 1),
            chapter_title=title,
            chapter_text=fitted,
            focus=NO_FOCUS[lang],
        )
    if kind == "ask":
        found = search(chapters, book.question, 5, lambda i: True)
        ask_plan = PromptBudget(
            plan.profile, plan.chapter_chars, plan.chapter_chars, plan.max_passages
        )
        _, passages = passages_for_prompt(found, ask_plan, book.language)
        return prompt.render(
            bible=NO_BIBLE[lang], book_title=book.name, passages=passages, question=book.question
        )
    found = search(chapters, EXPAND_REQUEST[lang], 5, lambda i: i != index)
    _, memory = passages_for_prompt(found, plan, book.language)
    fitted, _ = fit_chapter_text(text, plan.chapter_chars)
    return prompt.render(
        bible=NO_BIBLE[lang],
        book_title=book.name,
        genre=not_given,
        synopsis=not_given,
        memory=memory,
        chapter_title=title,
        chapter_text=fitted,
        idea=NO_IDEA[lang],
        instructions=EXPAND_REQUEST[lang],
    )


def run_one(
    llm: LLMClient,
    settings: Settings,
    variant: str,
    kind: str,
    book: Book,
    chapters: list[tuple[str, str]],
    index: int,
    max_tokens: int,
) -> dict[str, Any]:
    after = variant == "after"
    profile = resolve_profile(settings, llm.server_info()) if after else "full"
    plan = prompt_budget(settings, profile)
    messages = build(kind, book, chapters, index, plan)
    options = GenerationOptions(
        sampling=sampling_for(settings, kind) if after else None,
        guard=after,
        checks=after,
        max_tokens=max_tokens,
    )
    started = time.perf_counter()
    row: dict[str, Any] = {
        "variant": variant,
        "kind": kind,
        "book": book.name,
        "chapter": index + 1,
        "profile": profile,
    }
    try:
        completion = generate_text(
            llm, messages, options, on_delta=lambda _: None, on_reset=lambda _: None
        )
    except EmptyOutputError as exc:
        return {**row, "failed": str(exc), "seconds": time.perf_counter() - started}
    guard = completion.guard or {}
    attempts = guard.get("attempts") or [
        {"completion_tokens": completion.completion_tokens or completion.streamed_pieces}
    ]
    text = completion.text
    return {
        **row,
        "failed": None,
        "rep4": repeated_ngram_share(text),
        "distinct2": distinct_n(text, 2),
        "guard_stopped": bool(guard.get("triggered")),
        "retried": bool(guard.get("retried")),
        "flagged": bool(completion.warnings),
        "echo": echo_found(text, messages),
        "echo_cleaned": bool(guard.get("echo_removed")),
        "language_ok": output_language(text) == template_language(book.language),
        "tokens": sum(int(a.get("completion_tokens") or 0) for a in attempts),
        "prompt_tokens": completion.prompt_tokens,
        "seconds": time.perf_counter() - started,
        "finish_reason": completion.finish_reason,
        "words": len(words(text)),
        "sample": text[:160],
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["variant"], row["kind"]), []).append(row)
        groups.setdefault((row["variant"], "all"), []).append(row)
    table = []
    for (variant, kind), items in sorted(groups.items()):
        ok = [r for r in items if not r["failed"]]
        rep = [r["rep4"] for r in ok] or [0.0]

        def share(key: str, among: list[dict[str, Any]] = ok) -> float:
            return sum(bool(r[key]) for r in among) / len(among) if among else 0.0

        table.append(
            {
                "variant": variant,
                "kind": kind,
                "n": len(items),
                "failed": len(items) - len(ok),
                "rep4_median": statistics.median(rep),
                "rep4_max": max(rep),
                "over_0.4_plain": sum(r["rep4"] > 0.4 and not r["flagged"] for r in ok),
                "distinct2": statistics.mean([r["distinct2"] for r in ok] or [0.0]),
                "guard_stopped": share("guard_stopped"),
                "flagged": share("flagged"),
                "echo": share("echo"),
                "echo_cleaned": share("echo_cleaned"),
                "language_ok": share("language_ok"),
                "tokens": statistics.mean([r["tokens"] for r in ok] or [0]),
                "seconds": statistics.mean([r["seconds"] for r in items]),
            }
        )
    return table


def print_table(table: list[dict[str, Any]]) -> None:
    head = (
        "| variant | kind | n | failed | rep-4 median | rep-4 max | >0.4 plain | distinct-2 | "
        "guard stop | flagged | echo | echo cleaned | book's language | tokens | s/result |"
    )
    print(head)
    print("|---" * 15 + "|")
    for t in table:
        print(
            f"| {t['variant']} | {t['kind']} | {t['n']} | {t['failed']} | {t['rep4_median']:.2f} "
            f"| {t['rep4_max']:.2f} | {t['over_0.4_plain']} | {t['distinct2']:.2f} "
            f"| {t['guard_stopped']:.0%} | {t['flagged']:.0%} | {t['echo']:.0%} "
            f"| {t['echo_cleaned']:.0%} | {t['language_ok']:.0%} | {t['tokens']:.0f} "
            f"| {t['seconds']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="llamacpp", choices=["llamacpp", "vllm"])
    parser.add_argument("--llm-url", help="use a running server instead of starting one")
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--kinds", default="suggest,critique,ask,expand")
    parser.add_argument("--books", default=",".join(b.name for b in BOOKS))
    parser.add_argument("--chapters", type=int, default=2, help="chapters per book (at most)")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args()

    group = ProcessGroup(ROOT / "test-artifacts" / "logs" / "bench-generation")
    try:
        if args.llm_url:
            url = args.llm_url
        else:
            from services.launcher.stack import start_llm_server

            url = start_llm_server(group, engine=args.engine)
        settings = Settings(_env_file=None, LLM_BASE_URL=url)  # type: ignore[call-arg]
        llm = LLMClient(settings)
        info = llm.server_info()
        print(
            f"# generation quality · {args.engine} · model {info} · {platform.node()} · "
            f"{time.strftime('%Y-%m-%d %H:%M')}"
        )
        books = [b for b in BOOKS if b.name in args.books.split(",")]
        rows: list[dict[str, Any]] = []
        for book in books:
            chapters = load_book(book)
            for index in book.chapters[: args.chapters]:
                for kind in args.kinds.split(","):
                    # Interleaved: both variants see the same machine load.
                    for variant in args.variants.split(","):
                        row = run_one(
                            llm, settings, variant, kind, book, chapters, index, args.max_tokens
                        )
                        rows.append(row)
                        print(
                            f"  {variant:6} {kind:8} {book.name:22} ch{index + 1:<3} "
                            f"rep4={row.get('rep4', float('nan')):.2f} "
                            f"guard={row.get('guard_stopped')} flagged={row.get('flagged')} "
                            f"lang={row.get('language_ok')} tok={row.get('tokens')} "
                            f"{row['seconds']:.1f}s {row['failed'] or ''}",
                            flush=True,
                        )
        table = summarize(rows)
        print()
        print_table(table)
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "table": table}, indent=1))
    finally:
        group.stop()


if __name__ == "__main__":
    main()
