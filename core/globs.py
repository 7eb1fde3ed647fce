"""Glob filters with the meaning people know from .gitignore and ripgrep's -g.

A pattern without a slash matches a file's name at any depth ('*.py'); one with a slash
matches the path from the workspace root ('src/**/*.ts'). `**` spans directories, `*` and
`?` stay within one, `{a,b}` lists alternatives. A pattern that names a directory
selects everything under it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable


def _translate(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1: end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body[0] in "!^" else "[" + body + "]")
            i = end + 1
        elif pattern[i] == "{" and (end := pattern.find("}", i)) != -1:
            out.append("(?:" + "|".join(_translate(alt) for alt in pattern[i + 1: end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@lru_cache(maxsize=64)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate on workspace-relative POSIX paths."""
    anchored = "/" in pattern.rstrip("/")
    body = _translate(pattern.strip("/"))
    # The path itself, or a directory above it, may match.
    regex = re.compile(("" if anchored else r"(?:.*/)?") + body + r"(?:/.*)?", re.S)
    return lambda rel: regex.fullmatch(rel) is not None
