"""`copiloto import | reindex | export`: whole manuscripts from a terminal, through the API,
with a progress bar that follows each job until it ends."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

from services.core.config import Settings

TERMINAL = ("succeeded", "failed", "cancelled")


def add_commands(sub: Any) -> None:
    imp = sub.add_parser("import", help="import a .md/.txt/.docx/.epub book file as chapters")
    imp.add_argument("file", type=Path)
    target = imp.add_mutually_exclusive_group(required=True)
    target.add_argument("--book", help="id of the book to add the chapters to")
    target.add_argument("--new-book", metavar="TITLE", help="create a book with this title")
    imp.add_argument("--language", default="pt-BR", help="language of a new book (pt-BR, en)")
    imp.add_argument("--dry-run", action="store_true", help="only show how the file splits")
    imp.add_argument("--no-reindex", action="store_true", help="do not index the book after")
    imp.add_argument("--summarize", action="store_true", help="also queue LLM summaries")
    imp.add_argument("--no-wait", action="store_true", help="submit and return at once")
    re_ = sub.add_parser("reindex", help="index a whole book into memory")
    re_.add_argument("book")
    re_.add_argument("--force", action="store_true", help="rebuild unchanged chapters too")
    re_.add_argument("--summarize", action="store_true", help="also queue LLM summaries")
    re_.add_argument("--no-wait", action="store_true", help="submit and return at once")
    exp = sub.add_parser("export", help="export a book as one .md, .docx or .epub file")
    exp.add_argument("book")
    exp.add_argument("--format", choices=["md", "docx", "epub"], default="md")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: server's name)")
    for parser in (imp, re_, exp):
        parser.add_argument("--api", help="API URL (default: API_URL)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    with httpx.Client(base_url=args.api or settings.api_url, headers=headers, timeout=300) as api:
        try:
            if args.command == "import":
                return _import(api, args)
            if args.command == "reindex":
                return _reindex(api, args)
            return _export(api, args)
        except httpx.TransportError as exc:
            print(f"error: the API at {api.base_url} does not answer ({exc})", file=sys.stderr)
            return 2


def _fail(response: httpx.Response) -> int:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    print(f"error: {response.status_code}: {detail}", file=sys.stderr)
    return 1


def _import(api: httpx.Client, args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 1
    book_id = args.book
    if args.new_book:
        created = api.post("/books", json={"title": args.new_book, "language": args.language})
        if created.status_code != 201:
            return _fail(created)
        book_id = created.json()["id"]
        print(f"book {book_id} created: {args.new_book}")
    params = {
        "dry_run": str(args.dry_run).lower(),
        "reindex": str(not args.no_reindex).lower(),
        "summarize": str(args.summarize).lower(),
    }
    with path.open("rb") as handle:
        response = api.post(
            f"/books/{book_id}/import", files={"file": (path.name, handle)}, params=params
        )
    if response.status_code not in (200, 202):
        return _fail(response)
    body = response.json()
    preview = body if args.dry_run else body["preview"]
    print(
        f"{preview['filename']}: {preview['total_chapters']} chapters, "
        f"{preview['total_words']:,} words (split: {preview['split']})"
    )
    if args.dry_run:
        for chapter in preview["chapters"]:
            print(f"  {chapter['index']:4d}  {chapter['word_count']:7,d}  {chapter['title']}")
        if preview["already_imported"]:
            print("this file was already imported into this book: importing it adds nothing")
        return 0
    print(f"import job {body['id']}")
    if args.no_wait:
        return 0
    job = follow(api, body["id"], "import")
    if job["status"] != "succeeded":
        return 1
    reindex_id = (job.get("result") or {}).get("reindex_job_id")
    if reindex_id:
        print(f"reindex job {reindex_id}")
        return 0 if follow(api, reindex_id, "index")["status"] == "succeeded" else 1
    return 0


def _reindex(api: httpx.Client, args: argparse.Namespace) -> int:
    response = api.post(
        f"/books/{args.book}/reindex", json={"force": args.force, "summarize": args.summarize}
    )
    if response.status_code not in (200, 202):
        return _fail(response)
    job_id = response.json()["id"]
    print(f"reindex job {job_id}")
    if args.no_wait:
        return 0
    return 0 if follow(api, job_id, "index")["status"] == "succeeded" else 1


def _export(api: httpx.Client, args: argparse.Namespace) -> int:
    response = api.get(f"/books/{args.book}/export", params={"format": args.format})
    if response.status_code != 200:
        return _fail(response)
    disposition = response.headers.get("content-disposition", "")
    suggested = disposition.partition('filename="')[2].rstrip('"') or f"book.{args.format}"
    output: Path = args.output or Path(Path(suggested).name)  # never a path the server chose
    output.write_bytes(response.content)
    print(f"{output} ({len(response.content):,} bytes)")
    return 0


def follow(
    api: httpx.Client,
    job_id: str,
    label: str,
    *,
    out: TextIO | None = None,
    poll_s: float = 0.3,
) -> dict[str, Any]:
    """Draw the job's progress until it ends; returns the final job."""
    stream = out or sys.stderr
    tty = stream.isatty()
    last = ""
    while True:
        job: dict[str, Any] = api.get(f"/jobs/{job_id}").json()
        line = progress_line(label, float(job["progress"]), str(job["message"]))
        if tty:
            stream.write("\r" + line.ljust(100)[:100])
        elif line != last:
            stream.write(line + "\n")
        stream.flush()
        last = line
        if job["status"] in TERMINAL:
            break
        time.sleep(poll_s)
    if tty:
        stream.write("\n")
    outcome = f"{label}: {job['status']}"
    if job.get("duration_s") is not None:
        outcome += f" in {job['duration_s']:.1f}s"
    if job.get("error"):
        outcome += f": {job['error']}"
    print(outcome, file=stream)
    return job


def progress_line(label: str, fraction: float, message: str, width: int = 30) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return f"{label:6s} [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}% {message}"
