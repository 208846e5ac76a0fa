"""Field types shared by the JSON answers the writing jobs ask the LLM for."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# A name, a place, a time marker or a theme: short, so a looping model cannot run on in one.
Name = Annotated[str, Field(min_length=1, max_length=40)]


def unique(values: list[str]) -> list[str]:
    """Drop repeats, keeping the first spelling: JSON schema's uniqueItems is not something
    llama.cpp's grammar can enforce, and small models repeat names ("Ana", "Ana", …)."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = value.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            kept.append(value.strip())
    return kept
