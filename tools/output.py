"""Keep long tool output within what a prompt can afford: head and tail, with a note of what was cut."""
from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
MAX_CHARS = 16_000


def clean_terminal(text: str) -> str:
    """Drop colour codes, and keep only what a progress bar finally showed on each line."""
    text = ANSI.sub("", text).replace("\r\n", "\n")
    if "\r" not in text:
        return text
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
                     for line in text.split("\n"))


def cap(text: str, limit: int = MAX_CHARS, hint: str = "") -> str:
    """`text` if it fits; else about 2/3 of `limit` from the head and 1/3 from the tail, cut at line ends."""
    if len(text) <= limit:
        return text
    head = text[: limit * 2 // 3]
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    tail = text[len(text) - limit // 3:]
    if "\n" in tail:
        tail = tail[tail.index("\n") + 1:]
    cut = text[len(head): len(text) - len(tail)]
    first = head.count("\n") + 1
    lines = cut.count("\n")
    where = f"lines {first}-{first + lines - 1}" if lines else "part of one line"
    note = f"[... {where} ({len(cut)} chars) cut{'; ' + hint if hint else ''} ...]"
    return f"{head}{note}\n{tail}"
