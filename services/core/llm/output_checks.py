"""Cheap checks of a finished answer: prompt echoes are cleaned away, an empty answer is an error.

A small model sometimes copies the prompt's scaffolding into its answer: a `</capitulo>` tag,
the `### user` header, or a line of the instructions ("Proponha 3 caminhos narrativos…"). None
of that is writing for the author, so it is removed, and the receipt says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.core.llm.client import LLMError

_TAG = re.compile(r"</?([A-Za-z_]+)>")
_SECTION = re.compile(r"^[ \t]*#{2,}\s*(system|user|assistant)\s*$", re.IGNORECASE | re.MULTILINE)
# A prompt line shorter than this ("Livro: X") may well be said again in a good answer.
MIN_ECHO_LINE = 25


class EmptyOutputError(LLMError):
    """The model answered nothing (or only the prompt's scaffolding)."""


@dataclass
class EchoReport:
    text: str
    removed: list[str] = field(default_factory=list)  # kinds of echo found: delimiters, …


def _instruction_lines(messages: list[dict[str, str]], tags: set[str]) -> list[str]:
    """Lines written by the template (not book material): the system message, and the user
    message outside its delimited blocks."""
    lines: list[str] = []
    for message in messages:
        content = message["content"]
        if message["role"] == "user":
            for tag in tags:
                content = re.sub(
                    rf"<{tag}>.*?</{tag}>", "\n", content, flags=re.DOTALL | re.IGNORECASE
                )
        lines.extend(line.strip() for line in content.splitlines())
    return [line for line in dict.fromkeys(lines) if len(line) >= MIN_ECHO_LINE]


def clean_echo(text: str, messages: list[dict[str, str]]) -> EchoReport:
    tags = {m.lower() for message in messages for m in _TAG.findall(message["content"])}
    report = EchoReport(text)
    if tags:
        alternatives = "|".join(sorted(re.escape(t) for t in tags))
        pattern = re.compile(rf"[<‹]\s*/?\s*(?:{alternatives})\s*[>›]", re.IGNORECASE)
        cleaned = pattern.sub("", report.text)
        if cleaned != report.text:
            report.removed.append("delimiters")
            report.text = cleaned
    cleaned = _SECTION.sub("", report.text)
    if cleaned != report.text:
        report.removed.append("sections")
        report.text = cleaned
    echoed = [line for line in _instruction_lines(messages, tags) if line in report.text]
    if echoed:
        report.removed.append("instructions")
        for line in sorted(echoed, key=len, reverse=True):
            report.text = report.text.replace(line, "")
    if report.removed:
        # What is left of a removed line: blank lines in a row.
        report.text = re.sub(r"\n{3,}", "\n\n", report.text).strip()
    return report


def echo_found(text: str, messages: list[dict[str, str]]) -> bool:
    """Whether the answer echoes the prompt's delimiters, sections or instruction lines."""
    return bool(clean_echo(text, messages).removed)
