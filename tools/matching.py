"""Find where `old` sits in a file: exact, then whitespace-tolerant, else the closest lines.

Texts here use \n line endings (TextFile normalises them); offsets are into that text.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from wren.core.errors import ToolError
from wren.tools.indent import Reindenter, follow_line, restyle


@dataclass
class Match:
    start: int  # character offsets into the text
    end: int
    new: str    # replacement, re-indented to fit when the match was tolerant
    stage: str  # "exact" or "whitespace"


def _norm(line: str) -> str:
    return " ".join(line.split())


def line_no(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


PLACES_SHOWN = 10  # a refusal names the first places only: 1,000 of them made a 50 KB message


def _places(text: str, starts: list[int]) -> str:
    lines = text.split("\n")
    shown = "; ".join(f"line {n}: {lines[n - 1].strip()[:60]!r}"
                      for n in (line_no(text, s) for s in starts[:PLACES_SHOWN]))
    return shown + (f"; and {len(starts) - PLACES_SHOWN} more" if len(starts) > PLACES_SHOWN else "")


def _refuse_many(text: str, starts: list[int], how: str, line: int | None = None, there: int = 0) -> None:
    places = f"old text {how} {len(starts)} places ({_places(text, starts)})"
    if there > 1:
        raise ToolError(f"{places}, {there} of them starting at line {line}; add surrounding text to make it "
                        "unique. Nothing was changed")
    if line is not None:
        raise ToolError(f"{places}, none of them starting at line {line}; pass the line one of them starts on. "
                        "Nothing was changed")
    raise ToolError(f"{places}; add surrounding lines to make it unique, pass line=N (the line it starts on), or "
                    "pass replace_all=true. Nothing was changed")


def _apart(starts: list[int], width: int) -> list[int]:
    """Of sorted `starts` of places `width` long, those that do not overlap an earlier one kept (a scan from the
    start, as a replacement of each reads them)."""
    kept: list[int] = []
    for at in starts:
        if not kept or at >= kept[-1] + width:
            kept.append(at)
    return kept


def _exact(text: str, old: str, new: str, replace_all: bool, line: int | None = None) -> list[Match]:
    starts, at = [], text.find(old)  # every place, overlapping ones too (`a\na` twice in `a\na\na`)
    while at != -1:
        starts.append(at)
        at = text.find(old, at + 1)
    spots = [Match(at, at + len(old), new, "exact") for at in _apart(starts, len(old))]
    if replace_all or len(starts) < 2:
        return spots
    if line is not None:  # any of them, overlapping or not, may be the one named
        chosen = [at for at in starts if line_no(text, at) == line]
        if len(chosen) == 1:
            return [Match(chosen[0], chosen[0] + len(old), new, "exact")]
        _refuse_many(text, starts, "occurs in", line, len(chosen))
    if len(spots) > 1:
        _refuse_many(text, [m.start for m in spots], "occurs in")
    return spots


def _trim_blank(lines: list[str], like: list[str]) -> tuple[list[str], list[str]]:
    """Drop blank lines around `lines`, and as many blank lines (at most) around `like`."""
    lead = next((i for i, x in enumerate(lines) if x.strip()), len(lines))
    trail = next((i for i, x in enumerate(reversed(lines)) if x.strip()), 0)
    core = lines[lead: len(lines) - trail]
    while lead and like and not like[0].strip():
        like, lead = like[1:], lead - 1
    while trail and like and not like[-1].strip():
        like, trail = like[:-1], trail - 1
    return core, like


def _split(text: str, newline_ends: bool) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if newline_ends and text.endswith("\n") else lines


def _windows(lines: list[str], want: list[str]) -> list[int]:
    """The indices of `lines` where `want` matches ignoring whitespace, overlapping windows too."""
    norm = [_norm(x) for x in want]
    return [i for i in range(len(lines) - len(norm) + 1)
            if all(_norm(lines[i + j]) == w for j, w in enumerate(norm))]


def _tolerant(text: str, old: str, new: str, replace_all: bool, line: int | None = None) -> list[Match]:
    # A trailing newline on old is matched by the line structure; drop it from both sides alike.
    ends = old.endswith("\n")
    old_lines, new_lines = _split(old, ends), _split(new, ends)
    lines = text.split("\n")
    # Blank lines at the edges of old must match too, unless that finds nothing: then they are sloppiness.
    for want, repl in ((old_lines, new_lines), _trim_blank(old_lines, new_lines)):
        every = _windows(lines, want) if any(x.strip() for x in want) else []
        if every:
            break
    offsets = [0]
    for each in lines:
        offsets.append(offsets[-1] + len(each) + 1)
    found = _apart(every, len(want))
    if line is not None and len(every) > 1 and not replace_all:  # line i (0-based) of the file is line i + 1
        found = [i for i in every if i + 1 == line]
        if len(found) != 1:
            _refuse_many(text, [offsets[i] for i in every], "matches (ignoring whitespace) in", line)
    elif len(found) > 1 and not replace_all:
        _refuse_many(text, [offsets[i] for i in found], "matches (ignoring whitespace) in")
    matches = []
    for i in found:
        fit = Reindenter.from_pairs(list(zip(want, lines[i: i + len(want)])))
        matches.append(Match(offsets[i], offsets[i + len(want)] - 1, fit.apply("\n".join(repl)), "whitespace"))
    return matches


def closest(text: str, old: str, limit: int = 2) -> str:
    """'Did you mean' feedback: the windows of the file most like `old`, with line numbers."""
    want = old.strip("\n").split("\n")
    lines, size = text.split("\n"), len(want)
    scorer = difflib.SequenceMatcher(autojunk=False)
    scorer.set_seq2(_norm(old))  # the expensive side is analysed once
    scored: list[tuple[float, int]] = []
    floor, keep = 0.3, limit * (2 * size + 1)  # enough to find `limit` windows that do not overlap
    for i in range(max(1, len(lines) - size + 1)):
        scorer.set_seq1(_norm("\n".join(lines[i: i + size])))
        if scorer.real_quick_ratio() < floor or scorer.quick_ratio() < floor:
            continue
        scored.append((scorer.ratio(), i))
        if len(scored) >= 2 * keep:
            scored = sorted(scored, reverse=True)[:keep]
            floor = max(floor, scored[-1][0])
    parts: list[str] = []
    taken: list[int] = []
    for ratio, i in sorted(scored, key=lambda s: (-s[0], s[1])):
        if len(parts) == limit or ratio < 0.3:
            break
        if any(abs(i - j) < size for j in taken):
            continue  # a window overlapping a better one says nothing new
        taken.append(i)
        body = "\n".join(f"{i + 1 + j:>6}\t{line}" for j, line in enumerate(lines[i: i + size]))
        last = min(i + size, len(lines))
        span = f"line {i + 1}" if last == i + 1 else f"lines {i + 1}-{last}"
        parts.append(f"{span} ({ratio:.0%} similar):\n{body}")
    return "\n".join(parts)


def find(text: str, old: str, new: str, replace_all: bool = False, line: int | None = None) -> list[Match]:
    """Where `old` is in `text`, each with its replacement: exact, else ignoring whitespace (then `new` is
    re-indented to fit). Several places are refused unless `replace_all` (then `line` is not used), or `line`
    (1-based) is the line one of them starts on (overlapping places count); `line` is not checked when `old`
    is found once. ToolError when nothing matches
    (with the closest lines), `old` is empty or equals `new`."""
    if not old:
        raise ToolError("old must not be empty; to create or overwrite a file use write_file")
    if old == new:
        raise ToolError("old and new are the same, so there is nothing to change")
    matches = _exact(text, old, new, replace_all, line) or _tolerant(text, old, new, replace_all, line)
    for m in matches:
        m.new = restyle(m.new, text)
    if matches:
        return matches
    near = closest(text, old)
    hint = f" Did you mean\n{near}" if near else " No similar lines either; read_file to see the current text."
    raise ToolError(f"old text not found, not even ignoring whitespace. Nothing was changed.{hint}")


def followed(text: str, matches: list[Match]) -> list[Match]:
    """`matches` with each exact one's `new` re-indented to follow the line it starts on (indent.follow_line),
    where the text before it on that line is blank."""
    out = []
    for m in matches:
        lead = text[text.rfind("\n", 0, m.start) + 1: m.start]
        out.append(Match(m.start, m.end, follow_line(m.new, lead), m.stage)
                   if m.stage == "exact" and not lead.strip() else m)
    return out


def apply(text: str, matches: list[Match]) -> str:
    for m in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + m.new + text[m.end:]
    return text
