"""The archive file itself: a zip whose manifest lists every member with its SHA-256 and size.

Reading never trusts the zip: its directory is checked against the limits before a byte is
inflated, every name must be a plain relative path of safe characters, and every member must
match the manifest exactly (nothing missing, nothing extra, no checksum mismatch).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from services.core.config import Settings
from services.core.errors import InvalidInput, PayloadTooLarge

FORMAT = "copiloto-book-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# A member name: up to 4 folders deep, each part of letters, digits, '.', '_' and '-', never
# starting with a dot; so "..", absolute paths, backslashes and drive letters cannot pass.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_DEPTH = 4
# What a damaged zip makes zipfile raise (a bad offset is a ValueError from seek, an unknown
# compression method NotImplementedError, a short header struct.error).
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    struct.error,
)
# Members smaller than this may compress as well as they like; the total limit bounds them.
RATIO_CHECK_FROM_BYTES = 1024 * 1024


class ArchiveRejected(InvalidInput):
    """The archive is unreadable, damaged, tampered with, too new or hostile (422)."""


class ArchiveTooLarge(PayloadTooLarge):
    """The archive, or what it would inflate to, is over a limit (413)."""


def app_version() -> str:
    try:
        return metadata.version("copiloto")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed here
        return "unknown"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ArchiveLimits:
    max_archive_bytes: int
    max_members: int
    max_uncompressed_bytes: int
    max_member_bytes: int
    max_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        # One revision's text is bounded by MAX_TEXT_CHARS (4 bytes a character at most in
        # UTF-8); JSON members of a long book are bigger, so they get the whole-archive limit.
        return cls(
            max_archive_bytes=settings.max_archive_bytes,
            max_members=settings.archive_max_members,
            max_uncompressed_bytes=settings.archive_max_uncompressed_bytes,
            max_member_bytes=min(
                settings.archive_max_uncompressed_bytes,
                max(settings.max_text_chars * 4, settings.max_archive_bytes),
            ),
            max_ratio=settings.archive_max_ratio,
        )


def write_container(members: Mapping[str, bytes], manifest_extra: Mapping[str, Any]) -> bytes:
    """The zip: `manifest.json` first, then the members in the order given."""
    for name in members:
        check_member_name(name)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": app_version(),
        "created_at": datetime.now(UTC).isoformat(),
        **manifest_extra,
        "members": {
            name: {"sha256": sha256(data), "size": len(data)} for name, data in members.items()
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json_bytes(manifest))
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def json_bytes(value: Any) -> bytes:
    """Readable JSON (indented, real accents), the same bytes for the same value."""
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode()


def check_member_name(name: str) -> None:
    parts = name.split("/")
    if len(parts) > MAX_DEPTH or not all(_PART.fullmatch(p) for p in parts):
        raise ArchiveRejected(
            f"archive member {name[:120]!r} has an unsafe name (absolute path, '..', "
            "backslash or unexpected characters): refusing the archive"
        )


@dataclass(frozen=True)
class ArchiveContents:
    manifest: dict[str, Any]
    members: dict[str, bytes]  # every member but the manifest, checked against it


def read_container(data: bytes, limits: ArchiveLimits) -> ArchiveContents:
    """Every member in memory, after the limits, the names and the manifest checksums passed."""
    if len(data) > limits.max_archive_bytes:
        raise ArchiveTooLarge(
            f"the archive has {len(data):,} bytes; the limit is {limits.max_archive_bytes:,} "
            "(MAX_ARCHIVE_BYTES)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE as exc:
        raise ArchiveRejected(
            f"not a readable archive (not a zip, or corrupt or truncated): {exc}"
        ) from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        _check_directory(infos, limits)
        members = {info.filename: _read_member(archive, info) for info in infos}
    raw_manifest = members.pop(MANIFEST, None)
    if raw_manifest is None:
        raise ArchiveRejected(f"the archive has no {MANIFEST}: it is not a Copiloto book archive")
    manifest = _parse_manifest(raw_manifest)
    _check_members(manifest, members)
    return ArchiveContents(manifest, members)


def _check_directory(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """The zip's own directory, before anything is inflated."""
    if len(infos) > limits.max_members:
        raise ArchiveTooLarge(
            f"the archive has {len(infos):,} members; the limit is {limits.max_members:,} "
            "(ARCHIVE_MAX_MEMBERS)"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        check_member_name(info.filename)
        if info.filename in seen:
            raise ArchiveRejected(f"archive member {info.filename!r} appears twice")
        seen.add(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveRejected(f"archive member {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ArchiveRejected(f"archive member {info.filename!r} is encrypted")
        if info.file_size > limits.max_member_bytes:
            raise ArchiveTooLarge(
                f"archive member {info.filename!r} inflates to {info.file_size:,} bytes; "
                f"the limit for one member is {limits.max_member_bytes:,}"
            )
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise ArchiveTooLarge(
                f"the archive inflates to more than {limits.max_uncompressed_bytes:,} bytes "
                "(ARCHIVE_MAX_UNCOMPRESSED_BYTES): refusing it"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_CHECK_FROM_BYTES and ratio > limits.max_ratio:
            raise ArchiveRejected(
                f"archive member {info.filename!r} compresses {ratio:,.0f}:1 (the limit is "
                f"{limits.max_ratio:,.0f}:1, ARCHIVE_MAX_RATIO): a zip bomb, refusing it"
            )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as handle:
            # zipfile stops at the declared size and checks the CRC at the end, so a member
            # that lies about its size cannot inflate past what the directory allowed.
            data = handle.read(info.file_size + 1)
    except _UNREADABLE as exc:
        raise ArchiveRejected(
            f"archive member {info.filename!r} is corrupt or truncated: {exc}"
        ) from None
    if len(data) != info.file_size:
        raise ArchiveRejected(f"archive member {info.filename!r} is corrupt or truncated")
    return data


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArchiveRejected(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveRejected(f"{MANIFEST} does not describe a Copiloto book archive")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveRejected(f"{MANIFEST} has no valid format_version")
    if version > FORMAT_VERSION:
        raise ArchiveRejected(
            f"the archive has format version {version}, newer than this Copiloto reads "
            f"({FORMAT_VERSION}; made by Copiloto {manifest.get('app_version', '?')}): "
            "update Copiloto to restore it"
        )
    if not isinstance(manifest.get("members"), dict):
        raise ArchiveRejected(f"{MANIFEST} lists no members")
    return manifest


def _check_members(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    listed: dict[str, Any] = manifest["members"]
    for name in sorted(listed.keys() - members.keys()):
        raise ArchiveRejected(
            f"archive member {name!r} is listed in the manifest but missing: the archive is "
            "truncated or was modified"
        )
    for name in sorted(members.keys() - listed.keys()):
        raise ArchiveRejected(
            f"archive member {name!r} is not in the manifest: the archive was modified"
        )
    for name, data in members.items():
        entry = listed[name]
        if (
            not isinstance(entry, dict)
            or entry.get("sha256") != sha256(data)
            or entry.get("size") != len(data)
        ):
            raise ArchiveRejected(
                f"checksum mismatch for archive member {name!r}: the archive was modified or "
                "damaged"
            )
