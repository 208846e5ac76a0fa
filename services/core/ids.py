"""Server-made identifiers and slugs: the only strings that ever become parts of file names."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_short_id(length: int = 12) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_uuid() -> str:
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def slugify(text: str, max_length: int = 60) -> str:
    """ASCII, lower-case, `[a-z0-9-]` only: safe inside a file name whatever the user typed."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "untitled"
