"""Keep long tool output within what a prompt can afford: head and tail, with a note of what was cut."""
from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
MAX_CHARS = 16_000
# cap's note without its hint, at most: "[... lines 1234567-1234567 (123456789 chars) cut; " and " ...]\n".
NOTE_CHARS = 56


def clean_terminal(text: str) -> str:
    """Drop colour codes, and keep only what a progress bar finally showed on each line."""
    text = ANSI.sub("", text).replace("\r\n", "\n")
    if "\r" not in text:
        return text
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
                     for line in text.split("\n"))


def cap(text: str, limit: int = MAX_CHARS, hint: str = "") -> str:
    """`text` if it fits in `limit` characters; else about 2/3 of what the note leaves from the head and 1/3
    from the tail, cut at line ends, and between them a note of what was cut (which lines, how many characters,
    then `hint`). At most `limit` characters in all where `limit` holds the note (NOTE_CHARS plus the hint):
    a cut result capped again would lose its first note's truth, and a caller that sized its parts to the
    room (run_tests) would overflow it by the note."""
    if len(text) <= limit:
        return text
    body = max(0, limit - NOTE_CHARS - len(hint))
    head = text[: body * 2 // 3]
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    tail = text[len(text) - body // 3:] if body // 3 else ""
    if "\n" in tail:
        tail = tail[tail.index("\n") + 1:]
    cut = text[len(head): len(text) - len(tail)]
    first = head.count("\n") + 1
    lines = cut.count("\n")
    where = f"lines {first}-{first + lines - 1}" if lines else "part of one line"
    note = f"[... {where} ({len(cut)} chars) cut{'; ' + hint if hint else ''} ...]"
    return f"{head}{note}\n{tail}"
