"""Edits that would break a file's syntax are refused before they are written.

A small model's one-line fix often breaks the file: Qwen2.5-Coder-1.5B appended `return mid - 1` to an
`if ...:` line whose block followed (QuixBugs find_first_in_sorted), and the test run that followed
reported only a collection error ("0 passed, 0 failed, 1 errors"): a step, a test run and, in a
careful session, an attempt spent on a change that could never run. SWE-agent's edit command refuses
such edits the same way. Only a file that parsed before is judged: a file already broken, or written
in syntax Wren's parser does not know, is left to the tests.

A Python edit that parses but uses a name the file neither defines, imports nor gets from the builtins is
refused too (pyflakes' undefined-name check, flake8's F821; SWE-agent's edit command refuses edits that add
F821 errors the same way): Qwen2.5-Coder-1.5B, fixing QuixBugs flatten's `yield flatten(x)`, wrote
`yield flatten2(x)`, and its test run could only say NameError; the change stayed (no fewer tests passed) and
the attempt's later fixes were built on it. Only names the file did not already miss count.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
import warnings

from pyflakes import checker, messages

from wren.context.languages import language_for, parser

CONTEXT_LINES = 2  # shown on each side of the line where parsing failed


def syntax_error(rel: str, text: str) -> tuple[int, str] | None:
    """(1-based line, message) of the first syntax error in `text`, the content of file `rel`; None when it
    parses, or its language is not known. Python files are compiled by this interpreter (its messages:
    "unexpected indent", "expected ':'"; an error other than of indentation only where tree-sitter's
    grammar fails too); others are parsed with their tree-sitter grammar."""
    spec = language_for(rel)
    if spec is None:
        return None
    root = parser(spec.name).parse(text.encode("utf-8", "surrogatepass")).root_node
    if spec.name == "python":
        try:
            with warnings.catch_warnings():  # `x is 1` warns; it is not ours to report
                warnings.simplefilter("ignore")
                compile(text, rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            # This interpreter may be older than the project's Python (`type X = int` is 3.12): past its
            # indentation, which tree-sitter's grammar lets pass, only an error both parsers see counts.
            if isinstance(exc, IndentationError) or root.has_error:
                return exc.lineno or 1, f"{exc.msg}, to Python {sys.version_info[0]}.{sys.version_info[1]}"
        except (ValueError, RecursionError, MemoryError):  # null bytes, absurd nesting: not ours to judge
            return None
        return None
    if not root.has_error:
        return None
    node = root
    while node.type != "ERROR" and not node.is_missing:
        broken = [child for child in node.children if child.has_error or child.is_missing]
        if not broken:
            break
        node = broken[0]
    what = f"missing `{node.type}`" if node.is_missing else "syntax error"
    return node.start_point[0] + 1, what


def undefined_names(rel: str, text: str) -> dict[str, int]:
    """The names Python file `rel` (content `text`) uses without defining, importing or having them as builtins,
    each with the 1-based line of its first use, by pyflakes' UndefinedName check; {} when `text` does not parse
    or `rel` is not a Python source file (stubs, `.pyi`, never run). A star import makes pyflakes report its
    names as maybe defined: not here. Names in annotations are left out: Python evaluates a local variable's
    never, and none under `from __future__ import annotations` (a missing typing import is the type checker's)."""
    spec = language_for(rel)
    if spec is None or spec.name != "python" or rel.endswith(".pyi"):
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, rel)
        found = checker.Checker(tree, filename=rel).messages
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    annotations = [(a.lineno, a.col_offset, a.end_lineno or a.lineno, a.end_col_offset or 0)
                   for a in _annotations(tree)]
    names: dict[str, int] = {}
    for message in found:
        at = (message.lineno, message.col)
        if isinstance(message, messages.UndefinedName) and not any(
                (line, col) <= at < (end_line, end_col) for line, col, end_line, end_col in annotations):
            names.setdefault(message.message_args[0], message.lineno)
    return names


def _annotations(tree: ast.AST) -> list[ast.expr]:
    """Every annotation in `tree`: of assignments, arguments and return values."""
    found: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.AnnAssign, ast.arg)):
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.returns)
    return [a for a in found if a is not None]


def broken_by_edit(rel: str, before: str, after: str) -> str:
    """Why writing `after` over `before` (file `rel`) is refused: it parsed, and `after` does not; or, in Python,
    `after` uses a name that neither it nor the builtins define and `before` did not miss. The message names
    the error and shows `after` around it. "" when the change may be written."""
    found = syntax_error(rel, after)
    if found is None:
        return _undefined_by_edit(rel, before, after)
    if syntax_error(rel, before) is not None:
        return ""
    line, message = found
    return (f"this change would leave {rel} unable to parse ({message}, line {line}), so nothing was changed. "
            f"The file would have read:\n{_around(after, line)}\nA block's statements go on their own lines under "
            "it, indented.")


def _around(text: str, line: int) -> str:
    """`text`'s lines within CONTEXT_LINES of 1-based `line`, numbered as read_file numbers them."""
    lines = text.split("\n")  # as read_file numbers them: a form feed is no line break
    first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
    return "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in range(first, last + 1))


def _undefined_by_edit(rel: str, before: str, after: str) -> str:
    """Why `after` is refused for using names `before` did not miss (see undefined_names); "" when none. Names
    `before` bound and `after` binds nowhere lost their definition or import in the change (a rename, a removal)."""
    missing = undefined_names(rel, after)
    if not missing or syntax_error(rel, before) is not None:  # `before` is read only where it must be
        return ""
    missed = undefined_names(rel, before)
    lost = {name: line for name, line in missing.items() if name not in missed}
    if not lost:
        return ""
    names = ", ".join(f"`{name}`" for name in sorted(lost, key=lambda name: lost[name]))
    them = "them" if len(lost) > 1 else "it"
    shown = _around(after, min(lost.values()))
    if not set(lost) & _bound(after) and set(lost) <= _bound(before):
        return (f"this change would remove what defines or imports {names}, which {rel} still uses (line "
                f"{min(lost.values())}), so that would raise NameError and nothing was changed. The file would have "
                f"read:\n{shown}\nChange the uses in the same edit (replace_all, or an `old` that takes them in), or "
                f"keep {them} defined.")
    return (f"this change would use {names} where {rel} has not defined or imported {them} (nor does Python), so it "
            f"would raise NameError and nothing was changed. The file would have read:\n{shown}\nUse names the file "
            "has there, or define or import the new one first.")


def _bound(text: str) -> set[str]:
    """The names Python code `text` binds anywhere (assigned, defined, imported, an argument, caught)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
    return bound


FSTRING_START = getattr(tokenize, "FSTRING_START", -1)  # Python 3.12+
TOOL_COMMENT = re.compile(r"^#!|coding[:=]|type:|noqa|pragma|fmt:")  # comments that change what tools do


def same_python(old: str, new: str) -> bool:
    """Whether two pieces of Python code are the same tokens, whitespace and comments aside (`def f(a) :` and
    `def f(a):`, `return a  # fixed` and `return a`): a change between them no test can see. False when either
    does not tokenize on its own (an unclosed bracket), a line's indentation changes, either holds an
    f-string (its inside is tokens from 3.12), or a comment tools read (`# type: ignore`, `# noqa`, ...)."""
    def tokens(text: str) -> list[str]:
        found = list(tokenize.generate_tokens(io.StringIO(text).readline))
        if any(t.type == FSTRING_START for t in found):  # 3.12 splits f-strings: `{x = }` and `{x=}` differ
            raise ValueError("an f-string")
        if any(t.type == tokenize.COMMENT and TOOL_COMMENT.search(t.string) for t in found):
            raise ValueError("a comment tools read")
        skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.DEDENT, tokenize.ENDMARKER)
        return [t.string for t in found if t.type not in skip]

    if [line[:len(line) - len(line.lstrip())] for line in old.splitlines()] != \
            [line[:len(line) - len(line.lstrip())] for line in new.splitlines()]:
        return False
    try:
        return tokens(old) == tokens(new)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return False
