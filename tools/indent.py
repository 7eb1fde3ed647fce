"""Re-indent the replacement of a whitespace-tolerant edit so it fits the file.

The model's `old` matched the file only after ignoring whitespace, so its indentation
differs from the file's: shifted by some levels, or spaces where the file has tabs.
The pairs (line of `old`, line of the file it matched) show how; `new` is written
with the same translation, keeping its own relative indentation.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def follow_line(new: str, lead: str) -> str:
    """`new`, replacing text that starts after `lead` (the indentation of its line), with its later lines
    given `lead` too when one of them that is not blank starts left of `lead`, as if written from column 0.
    edit_file tries it only for a one-line `old` of a Python file when `new` as written would not parse
    (tools/edit.py): Qwen2.5-Coder-1.5B replaced kheapsort's `import heapq`, indented inside the function
    and handed to it stripped, with `import heapq\nimport sys`, the second line at column 0. Elsewhere a
    line left of `old`'s may be meant (a new function after a method's last line, a dedented `else:`)."""
    first, *rest = new.split("\n")
    if not lead or all(len(indent_of(line)) >= len(lead) for line in rest if line.strip()):
        return new
    return "\n".join([first, *(lead + line if line.strip() else line for line in rest)])


def _spaces_per_tab(pairs: list[tuple[str, str]]) -> int:
    """How many spaces one tab stands for, judged from lines that differ only in that; else 4."""
    for a, b in pairs:
        tabs, spaces = (a, b) if set(a) == {"\t"} else (b, a)
        if set(tabs) == {"\t"} and set(spaces) == {" "} and len(spaces) % len(tabs) == 0:
            return len(spaces) // len(tabs)
    return 4


@dataclass
class Reindenter:
    mapping: dict[str, str]  # indentation in old -> indentation in the file
    tab: int                 # spaces per tab
    fill: str                # the file's indentation character

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> "Reindenter":
        mapping: dict[str, str] = {}
        for old_line, file_line in pairs:
            if old_line.strip():
                mapping.setdefault(indent_of(old_line), indent_of(file_line))
        fill = "\t" if any("\t" in f for f in mapping.values()) else " "
        return cls(mapping, _spaces_per_tab(list(mapping.items())), fill)

    def _width(self, indent: str) -> int:
        return sum(self.tab if ch == "\t" else 1 for ch in indent)

    def _render(self, width: int) -> str:
        if self.fill == "\t":
            return "\t" * (width // self.tab) + " " * (width % self.tab)
        return " " * width

    def translate(self, indent: str) -> str:
        if indent in self.mapping:
            return self.mapping[indent]
        # An indentation `old` did not show: keep its distance from the nearest one it did.
        base_old = min(self.mapping, key=lambda o: abs(self._width(o) - self._width(indent)))
        width = self._width(self.mapping[base_old]) + self._width(indent) - self._width(base_old)
        return self._render(max(0, width))

    def apply(self, new: str) -> str:
        if all(k == v for k, v in self.mapping.items()):
            return new
        out = []
        for line in new.split("\n"):
            ind = indent_of(line)
            out.append(self.translate(ind) + line[len(ind):] if line.strip() else line)
        return "\n".join(out)


def indent_style(text: str) -> str | None:
    """'\t' or ' ' when every indented line starts with it; None when mixed or nothing is indented."""
    starts = {line[0] for line in text.split("\n") if line[:1] in (" ", "\t") and line.strip()}
    return starts.pop() if len(starts) == 1 else None


def space_unit(text: str) -> int:
    """Spaces per indentation level: the most common step by which one line is indented past the last."""
    steps: Counter = Counter()
    last: int | None = None  # unknown at the start, and after a tab-indented line
    for line in text.split("\n"):
        if not line.strip():
            continue
        width = None if "\t" in indent_of(line) else len(indent_of(line))
        if width is not None and last is not None and width - last in (2, 3, 4, 8):
            steps[width - last] += 1
        last = width
    return steps.most_common(1)[0][0] if steps else 4


def restyle(new: str, text: str) -> str:
    """Indent `new` with the file's character: a file indented only with spaces gets no tab-indented
    lines from an edit, and a file indented only with tabs gets no space-indented ones."""
    style = indent_style(text)
    other = {" ": "\t", "\t": " "}.get(style or "")
    if other is None or not any(line.startswith(other) and line.strip() for line in new.split("\n")):
        return new
    unit = " " * space_unit(text if style == " " else new)
    out = []
    for line in new.split("\n"):
        ind = indent_of(line)
        fixed = ind.replace("\t", unit) if style == " " else ind.replace(unit, "\t")
        out.append(fixed + line[len(ind):])
    return "\n".join(out)
