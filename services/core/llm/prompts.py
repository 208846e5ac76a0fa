"""Prompt templates are data: one file per task and language under `prompts/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

_SECTION = re.compile(r"^### (system|user)\s*$", re.MULTILINE)
_TAG = re.compile(r"</?([A-Za-z_]+)>")


def _tags(*templates: Template) -> frozenset[str]:
    return frozenset(m.lower() for t in templates for m in _TAG.findall(t.template))


def neutralize_delimiters(value: str, tags: frozenset[str]) -> str:
    """Book text is data inside delimiters: a `</passages>` written in a chapter must not close
    the block and smuggle what follows out as instructions. Such tags become look-alikes."""
    if not tags:
        return value
    pattern = re.compile(r"<\s*(/?)\s*(" + "|".join(sorted(tags)) + r")\s*>", re.IGNORECASE)
    return pattern.sub(lambda m: f"‹{m.group(1)}{m.group(2)}›", value)


@dataclass(frozen=True)
class PromptTemplate:
    system: Template
    user: Template

    def render(self, **values: str) -> list[dict[str, str]]:
        tags = _tags(self.system, self.user)
        safe = {name: neutralize_delimiters(str(v), tags) for name, v in values.items()}
        return [
            {"role": "system", "content": self.system.substitute(safe).strip()},
            {"role": "user", "content": self.user.substitute(safe).strip()},
        ]


def template_language(language: str) -> str:
    return "en" if language.lower().startswith("en") else "pt-BR"


@cache
def load_prompt(task: str, language: str, profile: str = "full") -> PromptTemplate:
    """`profile` compact reads `prompts/compact/<task>.<lang>.txt` (short prompts for small
    models) when the task has one, else the full prompt."""
    name = f"{task}.{template_language(language)}.txt"
    folder = resources.files("services.core.llm").joinpath("prompts")
    if profile == "compact" and folder.joinpath("compact", name).is_file():
        folder = folder.joinpath("compact")
    text = folder.joinpath(name).read_text("utf-8")
    sections: dict[str, str] = {}
    parts = _SECTION.split(text)
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[role] = body
    return PromptTemplate(system=Template(sections["system"]), user=Template(sections["user"]))
