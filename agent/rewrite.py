"""Rewrite attempts: a careful session's attempt that writes a function under test anew.

A small model that reads buggy code reproduces the bug: shown QuixBugs' lis or levenshtein and asked to fix
it, Qwen2.5-Coder-1.5B changed other lines or restated the wrong one, attempt after attempt; asked for the
function from its documentation alone, it wrote lis correctly in 2 samples of 2 and levenshtein in 1 of 2
(and 0 of 4 with the buggy code in view). Where the body was what it needed (max_sublist_sum's Kadane loop),
the whole function written again with the code in view was correct in 2 of 2, against 0 of 12 one-line
fixes measured before (README, "one fix in 48 steps"). So every REWRITE_EVERY-th attempt, while a function the
failing test calls is known and documented, is one step that writes that whole function, the two ways in turn:
from its documentation and the failing run, its body left out of that step's prompt (`hidden`: without Wren's
orienting calls, careful.rewrite_prompt), or again with the code in view. Wren replaces the function with the
reply's definition through edit_file, like any change, and runs the tests; a rewrite that leaves them failing
is put back with the attempt, as a line fix is.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wren.tools.workspace import Workspace

REWRITE_EVERY = 2  # attempts 2, 4, 6, ... are rewrites (line fixes in the others)
REWRITE_LINES = 60  # a longer function is not written anew in one step
DOC_CHARS = 2000  # documentation shown, at most

HIDDEN = ("[Wren] Attempt {n} of {most}. Fixes of single lines did not make the tests pass, so this attempt writes "
          "the function `{name}` in {path} anew; its current body is left out (it has the bug). The first failure "
          "was: {failure}\nWhat `{name}` must do, from its documentation:\n{doc}\n\nWrite the whole function, "
          "complete and correct, in one ```python block, starting with `{header}`. Do not call any tool.]")
IN_VIEW = ("[Wren] Attempt {n} of {most}. Fixes of single lines did not make the tests pass, so this attempt writes "
           "the whole function `{name}` in {path} again, correct: read it above with what it must do, find where "
           "it goes wrong, and write the whole function, complete and correct, in one ```python block, starting "
           "with `{header}`. Do not call any tool.]")
BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class Target:
    """A top-level function to write anew: `path` (workspace-relative), `name`, `source` (its text exactly as
    in the file, decorators and all, no trailing newline), `header` (its `def` line, stripped), `indent` (its
    body's first line's indentation) and `doc` (what it must do: its docstring, else the module's documentation
    strings)."""
    path: str
    name: str
    source: str
    header: str
    indent: str
    doc: str

    def note(self, number: int, most: int, hidden: bool, failure: str) -> str:
        """The message that opens a rewrite attempt `number` of `most`."""
        text = HIDDEN if hidden else IN_VIEW
        # Only what the call returned and should have: the rest of run_tests' line quotes the body's lines.
        failure = failure.split("; ")[0] if hidden else failure
        return text.format(n=number, most=most, name=self.name, path=self.path, header=self.header,
                           doc=self.doc, failure=failure or "(see the test output)")


def find_target(files: list[str], ws: "Workspace", failure: str) -> Target | None:
    """The function of `files` (Python, workspace-relative) that the failing run's first failure (`failure`)
    calls by name, `name(`, else a file's only function; it must be top-level, at most REWRITE_LINES long and
    documented (a docstring, or module strings such as QuixBugs' description after the code). None otherwise:
    without documentation the function would be written from a guess."""
    for rel in files:
        if not rel.endswith(".py"):
            continue
        try:
            text = (ws.root / rel).read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        named = [f for f in functions if re.search(rf"\b{re.escape(f.name)}\(", failure)]
        chosen = named[0] if named else functions[0] if len(functions) == 1 else None
        if chosen is None or chosen.end_lineno is None:
            continue
        first = min([chosen.lineno, *(d.lineno for d in chosen.decorator_list)])
        if chosen.end_lineno - first + 1 > REWRITE_LINES:
            continue
        doc = ast.get_docstring(chosen) or "\n\n".join(
            node.value.value.strip() for node in tree.body
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
        if not doc.strip():
            continue
        lines = text.split("\n")
        body = lines[chosen.body[0].lineno - 1]
        return Target(path=rel, name=chosen.name, source="\n".join(lines[first - 1:chosen.end_lineno]),
                      header=lines[chosen.lineno - 1].strip(), indent=body[:len(body) - len(body.lstrip())] or "    ",
                      doc=doc.strip()[:DOC_CHARS])
    return None


def is_rewrite(number: int, most: int) -> bool:
    """Whether attempt `number` (of `most`; the last has every tool) writes a function anew."""
    return number % REWRITE_EVERY == 0 and number < most


def is_hidden(number: int) -> bool:
    """Whether rewrite attempt `number` leaves the function's body out (the two ways take turns)."""
    return (number // REWRITE_EVERY) % 2 == 1


def definition(reply: str, name: str) -> str | None:
    """The source of the top-level `def name` (with its decorators) in `reply`'s fenced code blocks, or in
    `reply` itself when it has none; None when no block parses to one."""
    for block in BLOCK.findall(reply) or [reply]:
        try:
            tree = ast.parse(block)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name and node.end_lineno:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "\n".join(block.split("\n")[first - 1:node.end_lineno])
    return None
