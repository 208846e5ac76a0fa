"""`copiloto backup | restore | delete | trash`: book archives through the API, and whole-install
backups (`--all`) made here, next to the catalog and the data folder."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.core.archives.install import backup_install, restore_install
from services.core.config import Settings
from services.core.errors import DomainError
from services.launcher.manuscript_commands import _fail, follow

COMMANDS = ("backup", "restore", "delete", "trash")


def add_commands(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="archive one book (through the API), or the whole install with --all"
    )
    backup.add_argument("book", nargs="?", help="id of the book to archive")
    backup.add_argument(
        "--all", action="store_true", help="the whole install: catalog snapshot + data files"
    )
    backup.add_argument("-o", "--output", type=Path, help="file to write")
    restore = sub.add_parser(
        "restore", help="restore a book archive (through the API), or a whole install with --all"
    )
    restore.add_argument("file", type=Path)
    restore.add_argument("--all", action="store_true", help="FILE is a whole-install backup")
    restore.add_argument("--force", action="store_true", help="--all: replace a non-empty install")
    how = restore.add_mutually_exclusive_group()
    how.add_argument("--as-new", action="store_true", help="restore with new ids (a copy)")
    how.add_argument(
        "--replace", metavar="TITLE", help="replace the existing book; TITLE is its exact title"
    )
    restore.add_argument("--no-wait", action="store_true", help="do not follow the reindex")
    delete = sub.add_parser("delete", help="move a book to the trash (restorable for TRASH_DAYS)")
    delete.add_argument("book")
    delete.add_argument("--confirm", metavar="TITLE", help="the book's exact title (else asked)")
    trash = sub.add_parser("trash", help="list the trash, restore or purge a book in it")
    trash.add_argument("action", nargs="?", choices=["list", "restore", "purge"], default="list")
    trash.add_argument("book", nargs="?")
    for parser in (backup, restore, delete, trash):
        parser.add_argument("--api", help="API URL (default: API_URL)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "all", False):
        try:
            return (
                _backup_all(args, settings)
                if args.command == "backup"
                else _restore_all(args, settings)
            )
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    with httpx.Client(base_url=args.api or settings.api_url, headers=headers, timeout=600) as api:
        try:
            if args.command == "backup":
                return _backup(api, args)
            if args.command == "restore":
                return _restore(api, args)
            if args.command == "delete":
                return _delete(api, args)
            return _trash(api, args)
        except httpx.TransportError as exc:
            print(f"error: the API at {api.base_url} does not answer ({exc})", file=sys.stderr)
            return 2


def _backup(api: httpx.Client, args: argparse.Namespace) -> int:
    if not args.book:
        print("error: name a book id, or --all for the whole install", file=sys.stderr)
        return 1
    response = api.get(f"/books/{args.book}/archive")
    if response.status_code != 200:
        return _fail(response)
    disposition = response.headers.get("content-disposition", "")
    suggested = disposition.partition('filename="')[2].rstrip('"') or f"{args.book}.copiloto.zip"
    output: Path = args.output or Path(Path(suggested).name)  # never a path the server chose
    output.write_bytes(response.content)
    print(f"{output} ({len(response.content):,} bytes)")
    return 0


def _restore(api: httpx.Client, args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 1
    params = {"mode": "new"}
    if args.as_new:
        params = {"mode": "as_new"}
    elif args.replace is not None:
        params = {"mode": "replace", "confirm": args.replace}
    with path.open("rb") as handle:
        response = api.post(
            "/books/restore", params=params, files={"file": (path.name, handle, "application/zip")}
        )
    if response.status_code != 201:
        return _fail(response)
    body = response.json()
    print(
        f"book {body['book_id']} restored: {body['title']} ({body['chapters']} chapters, "
        f"{body['revisions']} revisions, {body['artifacts']} artifacts)"
    )
    job_id = body.get("reindex_job_id")
    if not job_id:
        print("memory was not queued for rebuilding: run `copiloto reindex` for this book")
        return 0
    print(f"reindex job {job_id}")
    if args.no_wait:
        return 0
    return 0 if follow(api, job_id, "index")["status"] == "succeeded" else 1


def _delete(api: httpx.Client, args: argparse.Namespace) -> int:
    book = api.get(f"/books/{args.book}")
    if book.status_code != 200:
        return _fail(book)
    title = book.json()["title"]
    confirm = args.confirm
    if confirm is None:
        confirm = input(f"Type the title of the book to delete ({title}): ")
    response = api.delete(f"/books/{args.book}", params={"confirm": confirm})
    if response.status_code != 200:
        return _fail(response)
    purge_after = response.json()["purge_after"]
    print(f"book {args.book} moved to the trash; purged for good after {purge_after}")
    print(f"undo: copiloto trash restore {args.book}")
    return 0


def _trash(api: httpx.Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        response = api.get("/trash")
        if response.status_code != 200:
            return _fail(response)
        items = response.json()
        if not items:
            print("the trash is empty")
        for item in items:
            book = item["book"]
            print(f"{book['id']}  deleted {item['deleted_at']}  purge after "
                  f"{item['purge_after']}  {book['title']}")  # fmt: skip
        return 0
    if not args.book:
        print(f"error: trash {args.action} needs a book id", file=sys.stderr)
        return 1
    if args.action == "restore":
        response = api.post(f"/trash/{args.book}/restore")
        if response.status_code != 200:
            return _fail(response)
        print(f"book {args.book} restored from the trash: {response.json()['title']}")
        return 0
    response = api.delete(f"/trash/{args.book}")
    if response.status_code != 200:
        return _fail(response)
    print(f"book {args.book} purged ({response.json()['memory_deleted']} passages of memory)")
    return 0


def _backup_all(args: argparse.Namespace, settings: Settings) -> int:
    if args.book:
        print("error: --all backs up everything; do not name a book", file=sys.stderr)
        return 1
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    output: Path = args.output or Path(f"copiloto-backup-{stamp}.zip")
    made = backup_install(settings, output)
    print(
        f"{made.path} ({made.size:,} bytes): {made.catalog} catalog snapshot and "
        f"{made.files} data files; memory is not included (rebuild it with a reindex)"
    )
    return 0


def _restore_all(args: argparse.Namespace, settings: Settings) -> int:
    if args.as_new or args.replace is not None:
        print("error: --as-new and --replace are for one book's archive", file=sys.stderr)
        return 1
    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 1
    outcome = restore_install(settings, args.file, force=args.force)
    print(
        f"install restored: {outcome['books']} books, {outcome['files']} data files "
        f"({outcome['catalog']} catalog)."
    )
    print(
        "Start the stack, then rebuild memory: POST /chroma/vectorize-existing, or "
        "`copiloto reindex BOOK` for each book"
    )
    return 0
