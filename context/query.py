"""What a query names outright: file paths, traceback frames, dotted names, code identifiers.

These are resolved against the index (a path mentioned as
`C:\\venv\\site-packages\\pkg\\mod.py` is the workspace's `pkg/mod.py`) and become rankings
of their own beside the lexical and dense ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

PATH = re.compile(r"(?:[A-Za-z]:)?[\w.\-\\/]*[\\/]?[\w\-]+\.(?:py|pyi|js|jsx|mjs|ts|tsx|go|rs|java|c|h|cc|cpp|"
                  r"hpp|cxx|rb|php|cs|kt|swift|scala|md|rst|txt|toml|cfg|ini|ya?ml|json)\b")
FRAME = re.compile(r"File \"([^\"]+)\", line (\d+), in ([\w<>]+)")
GO_RUST_FRAME = re.compile(r"([\w./\\-]+\.(?:go|rs|js|ts|java|c|cpp)):(\d+)")
DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")
IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
BACKTICKED = re.compile(r"`([^`\n]{1,80})`")


@dataclass
class QueryParts:
    paths: list[str] = field(default_factory=list)  # file paths as written, most specific last
    frames: list[tuple[str, str]] = field(default_factory=list)  # (path, function), innermost last
    dotted: list[str] = field(default_factory=list)  # pkg.mod.Class.method
    identifiers: list[str] = field(default_factory=list)  # names that look like code, in order
    # Runs of 2 or 3 plain words, joined and lowercased, as a name spelled out in words: "the exit codes"
    # gives "exitcodes" and "exitcode", which `ExitCode` and `EXIT_CODES` fold to (see folded_name).
    phrases: list[str] = field(default_factory=list)


def looks_like_code(word: str) -> bool:
    """snake_case, CamelCase, dunder or ALLCAPS_NAMES; not plain English words."""
    if "_" in word.strip("_") or word.startswith("__"):
        return True
    inner = word[1:]
    return any(c.isupper() for c in inner) and any(c.islower() for c in word)


def analyse(query: str) -> QueryParts:
    parts = QueryParts()
    for path, _line, func in FRAME.findall(query):
        parts.frames.append((_norm(path), func))
    for path, _line in GO_RUST_FRAME.findall(query):
        parts.frames.append((_norm(path), ""))
    parts.paths = list(dict.fromkeys(_norm(p) for p in PATH.findall(query)))
    dotted = [d for d in DOTTED.findall(query) if not PATH.fullmatch(d)]
    parts.dotted = list(dict.fromkeys(dotted))
    named = [m for m in BACKTICKED.findall(query)]
    words = IDENT.findall(" ".join(named)) + [w for w in IDENT.findall(query) if looks_like_code(w)]
    for name in dotted:
        words.extend(name.split(".")[1:])  # `obj.method` names method even when it is a plain word
    parts.identifiers = list(dict.fromkeys(w for w in words if len(w) > 2))
    parts.phrases = word_phrases(query)
    return parts


PLAIN = re.compile(r"[A-Za-z]{2,}")


def word_phrases(query: str) -> list[str]:
    """Adjacent plain words joined as a name would be (2 or 3 of them), lowercased, each also with its
    last word singular ("codes" -> "code"); in order, no repeats."""
    words = [w.lower() for w in PLAIN.findall(query)]
    out: list[str] = []
    for size in (2, 3):
        for i in range(len(words) - size + 1):
            run = words[i:i + size]
            out.append("".join(run))
            last = run[-1]
            if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
                out.append("".join(run[:-1]) + last[:-1])
    return list(dict.fromkeys(out))


def folded_name(symbol: str) -> str:
    """A symbol's last part as words would spell it: `ExitCode`, `EXIT_CODE`, `exit_code` -> "exitcode"."""
    return symbol.rsplit(".", 1)[-1].replace("_", "").lower()


def _norm(path: str) -> str:
    return path.replace("\\", "/").lstrip("./")


def resolve_path(mention: str, paths: set[str], by_name: dict[str, list[str]]) -> str | None:
    """The indexed path a mention means: the longest tail of it that an indexed path ends with."""
    pieces = mention.split("/")
    for start in range(len(pieces)):
        tail = "/".join(pieces[start:])
        if tail in paths:
            return tail
        candidates = [p for p in by_name.get(pieces[-1], []) if p.endswith("/" + tail)]
        if len(candidates) == 1:
            return candidates[0]
    return None


def resolve_dotted(name: str, paths: set[str]) -> tuple[str, str] | None:
    """`pkg.mod.Class.meth` -> (`pkg/mod.py`, `Class.meth`), trying the longest module prefix first.

    Source trees often sit under src/ or lib/, so those prefixes are tried too."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        base = "/".join(parts[:cut])
        for root in ("", "src/", "lib/"):
            for candidate in (f"{root}{base}.py", f"{root}{base}/__init__.py"):
                if candidate in paths:
                    return candidate, ".".join(parts[cut:])
    return None
