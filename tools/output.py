"""Keep long tool output within what a prompt can afford: head and tail, with a note."""
from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
MAX_CHARS = 16_000


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def cap(text: str, limit: int = MAX_CHARS, hint: str = "") -> str:
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3):]
    cut = text[len(head): len(text) - len(tail)]
    note = f"\n[... {cut.count(chr(10)) + 1} lines ({len(cut)} chars) cut{'; ' + hint if hint else ''} ...]\n"
    return head + note + tail
