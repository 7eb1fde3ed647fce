"""Re-indent the replacement of a whitespace-tolerant edit so it fits the file.

The model's `old` matched the file only after ignoring whitespace, so its indentation
differs from the file's: shifted by some levels, or spaces where the file has tabs.
The pairs (line of `old`, line of the file it matched) show how; `new` is written
with the same translation, keeping its own relative indentation.
"""
from __future__ import annotations

from dataclasses import dataclass


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


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
