"""Prompt templates are data: one file per task and language under `prompts/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

_SECTION = re.compile(r"^### (system|user)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    system: Template
    user: Template

    def render(self, **values: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system.substitute(values).strip()},
            {"role": "user", "content": self.user.substitute(values).strip()},
        ]


def template_language(language: str) -> str:
    return "en" if language.lower().startswith("en") else "pt-BR"


@cache
def load_prompt(task: str, language: str) -> PromptTemplate:
    name = f"{task}.{template_language(language)}.txt"
    text = resources.files("services.core.llm").joinpath("prompts", name).read_text("utf-8")
    sections: dict[str, str] = {}
    parts = _SECTION.split(text)
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[role] = body
    return PromptTemplate(system=Template(sections["system"]), user=Template(sections["user"]))
