"""Damaged, tampered, too new and hostile versions of a good book archive: each is a name, the
bytes, the status a restore must answer and words its message must hold."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

Members = dict[str, bytes]

# Limits the test installs run with, small enough that the hostile archives stay cheap to make.
LIMITS = {
    "MAX_ARCHIVE_BYTES": str(8 * 1024 * 1024),
    "ARCHIVE_MAX_MEMBERS": "200",
    "ARCHIVE_MAX_UNCOMPRESSED_BYTES": str(16 * 1024 * 1024),
    "ARCHIVE_MAX_RATIO": "100",
    "MAX_TEXT_CHARS": "100000",
}


@dataclass(frozen=True)
class BadArchive:
    name: str
    status: int
    says: str
    make: Callable[[bytes], bytes]


def unpack(good: bytes) -> tuple[dict[str, object], Members]:
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(members.pop("manifest.json"))
    return manifest, members


def pack(
    manifest: dict[str, object],
    members: Members,
    *,
    resign: bool = True,
    infos: list[tuple[zipfile.ZipInfo, bytes]] | None = None,
) -> bytes:
    """A zip of the members; `resign` recomputes the manifest's checksums (a careful forger)."""
    if resign:
        manifest = {
            **manifest,
            "members": {
                n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                for n, d in members.items()
            },
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            archive.writestr(name, data)
        for info, data in infos or []:
            archive.writestr(info, data)
    return buffer.getvalue()


def edit(change: Callable[[dict[str, object], Members], None], *, resign: bool = True):  # type: ignore[no-untyped-def]
    def make(good: bytes) -> bytes:
        manifest, members = unpack(good)
        change(manifest, members)
        return pack(manifest, members, resign=resign)

    return make


def with_member(info: zipfile.ZipInfo | str, data: bytes, *, listed: bool = True):  # type: ignore[no-untyped-def]
    """Adds a member (listed in the manifest with its right checksum, unless `listed` is off)."""

    def make(good: bytes) -> bytes:
        manifest, members = unpack(good)
        name = info if isinstance(info, str) else info.filename
        signed = {**members, name: data} if listed else members
        manifest = {
            **manifest,
            "members": {
                n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                for n, d in signed.items()
            },
        }
        zinfo = info if isinstance(info, zipfile.ZipInfo) else zipfile.ZipInfo(info)
        zinfo.compress_type = zipfile.ZIP_DEFLATED
        return pack(manifest, members, resign=False, infos=[(zinfo, data)])

    return make


def _flip_middle(good: bytes) -> bytes:
    data = bytearray(good)
    start = len(data) // 3
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    return bytes(data)


def _first(members: Members, suffix: str) -> str:
    return next(n for n in sorted(members) if n.endswith(suffix))


def _tamper_text(_: dict[str, object], members: Members) -> None:
    name = _first(members, "/revisions/0001.md")
    members[name] = members[name] + b" (adulterado)"


def _drop_revision(_: dict[str, object], members: Members) -> None:
    del members[_first(members, "/revisions/0001.md")]


def _future(manifest: dict[str, object], _: Members) -> None:
    manifest["format_version"] = 99


def _future_section(manifest: dict[str, object], members: Members) -> None:
    manifest["sections"] = {**manifest["sections"], "timeline": 1}  # type: ignore[dict-item]


def _moved_quote(_: dict[str, object], members: Members) -> None:
    bible = json.loads(members["bible.json"])
    bible["facts"][0]["start"] += 1
    members["bible.json"] = json.dumps(bible).encode()


def _moved_citation(_: dict[str, object], members: Members) -> None:
    audit = json.loads(members["continuity.json"])
    audit["findings"][0]["citations"][1]["end"] -= 1
    members["continuity.json"] = json.dumps(audit).encode()


def _unknown_mark(_: dict[str, object], members: Members) -> None:
    audit = json.loads(members["continuity.json"])
    audit["findings"][0]["status"] = "maybe"
    members["continuity.json"] = json.dumps(audit).encode()


def _evil_id(_: dict[str, object], members: Members) -> None:
    book = json.loads(members["book.json"])
    members["book.json"] = json.dumps({**book, "id": "../../etc"}).encode()


def _long_text(_: dict[str, object], members: Members) -> None:
    members[_first(members, "/revisions/0001.md")] = b"palavra " * 20_000  # 160k > 100k chars


def _unknown_field(_: dict[str, object], members: Members) -> None:
    book = json.loads(members["book.json"])
    members["book.json"] = json.dumps({**book, "owner": "someone"}).encode()


def _deep_json(_: dict[str, object], members: Members) -> None:
    members["artifacts.json"] = b"[" * 200_000 + b"]" * 200_000


def _stray_file(_: dict[str, object], members: Members) -> None:
    members["files/other-book__x.md"] = b"# not ours\n"


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("files/link.md")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _many_members(good: bytes) -> bytes:
    manifest, members = unpack(good)
    for n in range(250):
        members[f"files/pad-{n}.md"] = b"x"
    return pack(manifest, members)


BAD_ARCHIVES = [
    BadArchive("not a zip", 422, "not a readable archive", lambda good: b"hello, not a zip"),
    BadArchive("empty", 422, "not a readable archive", lambda good: b""),
    BadArchive("truncated", 422, "", lambda good: good[: len(good) // 2]),
    BadArchive("corrupt bytes", 422, "", _flip_middle),
    BadArchive("no manifest", 422, "no manifest.json", lambda good: _no_manifest(good)),
    BadArchive("tampered text", 422, "checksum mismatch", edit(_tamper_text, resign=False)),
    BadArchive("member missing", 422, "missing", edit(_drop_revision, resign=False)),
    BadArchive("revision missing (re-signed)", 422, "missing", edit(_drop_revision, resign=True)),
    BadArchive(
        "unlisted member",
        422,
        "not in the manifest",
        with_member("files/extra.md", b"extra", listed=False),
    ),
    BadArchive("future format", 422, "newer than this Copiloto", edit(_future)),
    BadArchive("unknown section", 422, "'timeline' section", edit(_future_section)),
    BadArchive("bible quote off its offsets", 422, "not at its offsets", edit(_moved_quote)),
    BadArchive(
        "continuity quote off its offsets", 422, "not at its offsets", edit(_moved_citation)
    ),
    BadArchive("continuity mark unknown", 422, "continuity.json", edit(_unknown_mark)),
    BadArchive("unsafe id", 422, "book.json", edit(_evil_id)),
    BadArchive("unknown field", 422, "owner", edit(_unknown_field)),
    BadArchive("text over MAX_TEXT_CHARS", 422, "MAX_TEXT_CHARS", edit(_long_text)),
    BadArchive("deeply nested JSON", 422, "not valid JSON", edit(_deep_json)),
    BadArchive("file of another book", 422, "not a file of this book", edit(_stray_file)),
    BadArchive("path traversal", 422, "unsafe name", with_member("../../evil.md", b"x")),
    BadArchive("traversal inside", 422, "unsafe name", with_member("files/../../evil.md", b"x")),
    BadArchive("absolute path", 422, "unsafe name", with_member("/tmp/evil.md", b"x")),
    BadArchive("backslashes", 422, "unsafe name", with_member("files\\..\\evil.md", b"x")),
    BadArchive("hidden name", 422, "unsafe name", with_member("files/.bashrc", b"x")),
    BadArchive("symlink", 422, "symbolic link", with_member(_symlink(), b"/etc/passwd")),
    BadArchive(
        "zip bomb (ratio)", 422, "zip bomb", with_member("files/bomb.md", b"\0" * (4 << 20))
    ),
    BadArchive(
        "huge member", 413, "limit for one member", with_member("files/big.md", b"\0" * (9 << 20))
    ),
    BadArchive(
        "too much inflated",
        413,
        "ARCHIVE_MAX_UNCOMPRESSED_BYTES",
        lambda good: _inflating(good, 3, 6 << 20),
    ),
    BadArchive("too many members", 413, "ARCHIVE_MAX_MEMBERS", _many_members),
    BadArchive("too big", 413, "MAX_ARCHIVE_BYTES", lambda good: good + os.urandom(9 << 20)),
]


def _no_manifest(good: bytes) -> bytes:
    _, members = unpack(good)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _inflating(good: bytes, count: int, size: int) -> bytes:
    """`count` members of `size` bytes that compress ~40:1 (under the ratio, over the total)."""
    manifest, members = unpack(good)
    for n in range(count):
        members[f"files/big-{n}.md"] = b"".join(
            os.urandom(20) + b"\0" * 980 for _ in range(size // 1000)
        )
    return pack(manifest, members)
