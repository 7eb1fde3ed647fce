"""Narrowed edit steps: edit_file's schema cut down to the lines a local model may change.

A careful session's attempt opens with an edit (careful.edit_first); on a local model the grammar also
holds the call to one of the files under test and `old` to one of their code lines (with its `line` where
the text is found more than once), with `new` other than `old`. Each limit answers a failure of
Qwen2.5-Coder-1.5B's, named where it is set.
"""
from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from wren.local_models.formats import OPENING_KEY, reason_opening
from wren.local_models.headers import HEADER

if TYPE_CHECKING:
    from wren.tools.workspace import Workspace

EDIT_LINE_CHARS, EDIT_LINES = 200, 400  # a narrowed edit's `old` choices (the grammar grows with them)
# A file's offered lines, in characters, up to which `new` must differ from `old` (one grammar rule a character):
# Qwen2.5-Coder-1.5B restated lines as fixes (old == new), 4 steps of an attempt in max_sublist_sum.
UNEQUAL_CHARS = 8000


def narrowed_edit(tool: dict[str, Any], files: list[str], ws: "Workspace",
                  leave_out: Collection[tuple[str, str]] = (),
                  tried: Mapping[tuple[str, str], Collection[str]] | None = None,
                  failure: str = "", refused: Collection[str] = ()) -> dict[str, Any] | None:
    """edit_file's schema (OpenAI's tool format) with `path` one of `files` and `old` one of that file's
    lines (stripped; each at most EDIT_LINE_CHARS, at most EDIT_LINES a file; a text found more than once in the
    file comes with `line`, the number of the line it is, one option for each), `new` any other text (while the
    file's lines add up to at most UNEQUAL_CHARS; past that, any text). Qwen2.5-Coder-1.5B's
    edits failed on `old` text that was not in the program: a line of the test from the failing run's report
    (`assert levenshtein(*input_data) == expected`), read_file's line numbers (`8\t    return 1 + min(`).
    `leave_out`: (path, line_key) not offered. `tried`: (path, line_key) -> `new` texts already tried on it and
    failed, which `new` may not be either: Qwen2.5-Coder-1.5B proposed `max(max_ending_here, x)` in four
    attempts of max_sublist_sum, each refused as tried, a step each. The `new` of a block's opening line
    (opener_lines) is a header that ends at its colon (headers.HEADER: nothing after the colon; in
    find_first_in_sorted 13 of 17 of Qwen's edits put a statement after an `if ...:` line's colon). Past
    UNEQUAL_CHARS, `new` is free. `failure`: the failing run's first failure in one line, which the reason
    before the call opens with (formats.reason_opening, under formats.OPENING_KEY). `refused`: `new` texts
    refused in this attempt, which `new` may not be on any line (Attempt.refused_new). None when no file has
    such lines."""
    options = []
    for rel in files:
        try:
            text = (ws.root / rel).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # another encoding: the model edits it with its free steps
        # Text found more than once is offered with the number of each line it is (edit_file's `line`):
        # get_factors' bug is the second of its two `return []` lines, which Qwen2.5-Coder-1.5B could not
        # choose when only text found once was offered (12 attempts, none on it). Only code: Qwen2.5-Coder-1.5B,
        # fixing kth, turned `arr: A list of ints` in the docstring into `A list of integers`, an edit no test can
        # tell from none.
        prose = prose_lines(text) if rel.endswith(".py") else set()
        openers = {text.split("\n")[n - 1].strip() for n in opener_lines(text)} if rel.endswith(".py") else set()
        at: dict[str, list[int]] = {}  # each code line (stripped) -> the numbers of the lines it is
        for n, raw in enumerate(text.split("\n"), 1):
            if n not in prose and (line := raw.strip()) and len(line) <= EDIT_LINE_CHARS:
                at.setdefault(line, []).append(n)
        # Where a lone CR breaks a line for Python and read_text but not for edit_file (which counts "\n"), the
        # numbers would not agree: such a file's repeated lines are not offered.
        numbered = "\r" not in (ws.root / rel).read_bytes().decode("utf-8-sig", "replace").replace("\r\n", "\n")
        spots = []  # (line, its number where the text is found more than once, else None), not left out
        for line, numbers in at.items():
            once = text.count(line) == 1
            spots += [(line, None if once else n) for n in numbers if once or numbered]
        spots = [(line, n) for line, n in spots if (rel, line_key(line, n)) not in leave_out][:EDIT_LINES]
        lines = list(dict.fromkeys(line for line, _ in spots))
        if sum(map(len, lines)) <= UNEQUAL_CHARS:  # `new` is not `old`: a grammar rule per character of it
            # The refused texts are rules for every line: left out where they would take the file past the bound.
            unlike = refused if sum(map(len, lines)) + len(lines) * sum(map(len, refused)) <= UNEQUAL_CHARS else ()
            options += [edit_option(rel, {"const": line},
                                    {"type": "string", "not": _unlike(line, n, rel, tried or {}, unlike),
                                     **({HEADER: True} if line in openers else {})}, n)
                        for line, n in spots]
        elif spots:
            if found_once := [line for line, n in spots if n is None]:
                options.append(edit_option(rel, {"enum": found_once}, {"type": "string"}))
            options += [edit_option(rel, {"const": line}, {"type": "string"}, n) for line, n in spots if n is not None]
    if not options:
        return None
    return {"type": "function", "function": {**tool["function"], "parameters": {"oneOf": options},
                                             OPENING_KEY: reason_opening(failure)}}


def _unlike(line: str, number: int | None, rel: str, tried: Mapping[tuple[str, str], Collection[str]],
            refused: Collection[str] = ()) -> dict[str, Any]:
    """The `not` of a narrowed edit's `new` for `line` (at line `number` when its text is found more than once):
    the line itself, the fixes of it already tried, and the `new` texts refused in the attempt."""
    before = [new for new in {*tried.get((rel, line_key(line, number)), ()), *refused} if new != line]
    return {"enum": [line, *sorted(before)]} if before else {"const": line}


def edit_option(path: str, old: dict[str, Any], new: dict[str, Any], line: int | None = None) -> dict[str, Any]:
    """One shape of a narrowed edit_file call's arguments (JSON schema): `path` that file, and `line` that number
    when given (edit_file's choice among the places of an `old` found more than once; written before `new`)."""
    where = {"line": {"const": line}} if line is not None else {}
    return {"type": "object", "properties": {"path": {"const": path}, "old": old, **where, "new": new},
            "required": ["path", "old", *where, "new"], "additionalProperties": False}


def line_key(old: str, line: int | None = None) -> str:
    """How a careful session names the line an edit changes (Attempt.refused, tried fixes, resting lines): `old`
    with its whitespace runs made one space, and, when the edit names its `line` (an `old` found more than once
    in the file), " (line N)" after it."""
    text = " ".join(old.split())
    return text if line is None else f"{text} (line {line})"


def opener_lines(source: str) -> set[int]:
    """The line numbers (1-based) of a Python file's lines that end a compound statement's header with its
    colon (`if x:`, `while lo <= hi:`, `def f(a,` ... `b):` on its last line; not `if x: return y`). Empty
    when the file does not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, ValueError, tokenize.TokenError, RecursionError, MemoryError):
        return set()
    lines, last = set(), None
    for token in tokens:
        if token.type == tokenize.NEWLINE and last is not None and last.type == tokenize.OP and last.string == ":":
            lines.add(last.start[0])
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            last = token
    return lines


def prose_lines(source: str) -> set[int]:
    """The line numbers (1-based, lines split at "\n" as Python's parser counts them) of a Python file's
    comment lines and docstrings (a string standing as a statement, on every line it spans): text whose
    change no test can see. Empty when the file does not parse, so every line stays editable."""
    try:
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, ValueError, tokenize.TokenError, RecursionError, MemoryError):
        return set()
    # Lines whose first token is a comment (tokenize, not "#" at the start: a string's line may begin so).
    lines, firsts = set(), set()
    for token in tokens:
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT) and token.start[0] not in firsts:
            firsts.add(token.start[0])
            if token.type == tokenize.COMMENT:
                lines.add(token.start[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                and node.end_lineno is not None):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines
