"""Find where `old` sits in a file: exact, then whitespace-tolerant, else the closest lines."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from wren.tools.errors import ToolError


@dataclass
class Match:
    start: int  # character offsets into the text
    end: int
    new: str    # replacement, re-indented to fit when the match was tolerant
    stage: str  # "exact" or "whitespace"


def _norm(line: str) -> str:
    return " ".join(line.split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _line_no(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _exact(text: str, old: str, new: str, replace_all: bool) -> list[Match]:
    spots, at = [], text.find(old)
    while at != -1:
        spots.append(Match(at, at + len(old), new, "exact"))
        at = text.find(old, at + len(old))
    if len(spots) > 1 and not replace_all:
        where = ", ".join(f"line {_line_no(text, m.start)}" for m in spots)
        raise ToolError(f"old text occurs {len(spots)} times ({where}); add surrounding lines to make it "
                        "unique, or pass replace_all=true. Nothing was changed")
    return spots


def _reindent(new: str, old_indent: str, file_indent: str) -> str:
    out = []
    for line in new.split("\n"):
        if line.strip() and line.startswith(old_indent):
            line = file_indent + line[len(old_indent):]
        elif line.strip():
            line = file_indent + line.lstrip()
        out.append(line)
    return "\n".join(out)


def _tolerant(text: str, old: str, new: str, replace_all: bool) -> list[Match]:
    old_lines = old.strip("\n").split("\n")
    want = [_norm(x) for x in old_lines]
    if not any(want):
        return []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    found = [i for i in range(len(lines) - len(want) + 1)
             if all(_norm(lines[i + j]) == w for j, w in enumerate(want))]
    if len(found) > 1 and not replace_all:
        where = ", ".join(f"line {i + 1}" for i in found)
        raise ToolError(f"old text matches {len(found)} places when whitespace is ignored ({where}); "
                        "add surrounding lines to make it unique. Nothing was changed")
    old_first = next(x for x in old_lines if x.strip())
    matches = []
    for i in found:
        first = next(lines[i + j] for j, x in enumerate(old_lines) if x.strip())
        end = offsets[i + len(want)] - 1
        matches.append(Match(offsets[i], end, _reindent(new.strip("\n"), _indent(old_first), _indent(first)),
                             "whitespace"))
    return matches


def closest(text: str, old: str, limit: int = 2) -> str:
    """'Did you mean' feedback: the windows of the file most like `old`, with line numbers."""
    lines, size = text.split("\n"), max(1, len(old.strip("\n").split("\n")))
    target = _norm(old)
    scored = []
    for i in range(max(1, len(lines) - size + 1)):
        window = "\n".join(lines[i: i + size])
        scored.append((difflib.SequenceMatcher(None, _norm(window), target).ratio(), i))
    scored.sort(reverse=True)
    parts = []
    for ratio, i in scored[:limit]:
        if ratio < 0.3:
            break
        body = "\n".join(f"{i + 1 + j:>6}\t{line}" for j, line in enumerate(lines[i: i + size]))
        parts.append(f"lines {i + 1}-{i + size} ({ratio:.0%} similar):\n{body}")
    return "\n".join(parts)


def find(text: str, old: str, new: str, replace_all: bool = False) -> list[Match]:
    if not old:
        raise ToolError("old must not be empty; to create or overwrite a file use write_file")
    matches = _exact(text, old, new, replace_all) or _tolerant(text, old, new, replace_all)
    if matches:
        return matches
    near = closest(text, old)
    hint = f" Did you mean\n{near}" if near else " No similar lines either; read_file to see the current text."
    raise ToolError(f"old text not found.{hint}")


def apply(text: str, matches: list[Match]) -> str:
    for m in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + m.new + text[m.end:]
    return text
