"""Rewrite attempts: a careful session's attempt that writes a function under test anew.

A small model that reads buggy code reproduces the bug: shown QuixBugs' lis or levenshtein and asked to fix
it, Qwen2.5-Coder-1.5B changed other lines or restated the wrong one, attempt after attempt; asked for the
function from its documentation alone, it wrote lis correctly in 2 samples of 2 and levenshtein in 1 of 2
(and 0 of 4 with the buggy code in view). Where the body was what it needed (max_sublist_sum's Kadane loop),
the whole function written again with the code in view was correct in 2 of 2, against 0 of 12 one-line
fixes measured before (README, "one fix in 48 steps"; bench/rewrite_step.py). So every REWRITE_EVERY-th
attempt, while a function the failing test calls is known and documented, is one step that writes that whole
function, the two ways in turn: from its documentation, its body out of view (`hidden`), or again with the code
in view. The step is a request of its own (SPEC or CODE, as measured; no tools, none of the conversation): in
the conversation, after the agent's instructions and Wren's notes, Qwen answered in prose what gcd must do,
4 rewrites of 4 (a run at acd2876). Wren replaces the function with the reply's definition through edit_file,
like any change, and runs the tests; a rewrite that leaves them failing is put back with the attempt, as a
line fix is.
"""
from __future__ import annotations

import ast
import builtins
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wren.tools.workspace import Workspace

REWRITE_EVERY = 2  # attempts 2, 4, 6, ... are rewrites (line fixes in the others)
REWRITE_LINES = 60  # a longer function is not written anew in one step
DOC_CHARS = 2000  # documentation shown, at most

# The requests bench/rewrite_step.py measures, word for word, after this system message (Qwen's chat template puts
# its own "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." where there is none).
SYSTEM = "You are a helpful assistant."
SPEC = ("Write this Python function, complete and correct, in one ```python block. Start with `{header}`.\n\n"
        "What it must do:\n{doc}{uses}")
# Added to SPEC when the function uses names from outside itself. Asked without them, Qwen2.5-Coder-1.5B wrote
# QuixBugs' depth_first_search with `node.neighbors` where its nodes have `successors`, 2 rewrites of 2.
USES = "\n\nAs the code it replaces does, it may use: {names}."
CODE = ("This Python code has a bug: its tests fail.\n```python\n{code}\n```\nWhat it must do:\n{doc}\n\n"
        "Write the code again, complete and correct, in one ```python block.")
# The answer after a rewrite that made the tests pass, asked on its own like the rewrite (agent/rewrite_steps.py).
EXPLAIN = ("The function `{name}` in {path} had a bug: its tests failed. It was:\n```python\n{old}\n```\nNow it is:\n"
           "```python\n{new}\n```\nand its tests pass. In two or three sentences, tell the user what was wrong and "
           "what changed.")
NOTE = "[Wren] Attempt {n} of {most} writes `{name}` in {path} anew, asked on its own:]\n"
# A rewrite with the code in view (CODE) whose reply is that code again: the same attempt asks once more, with the
# body out of view (SPEC). Qwen2.5-Coder-1.5B returned hanoi's and minimum_spanning_tree's code as shown (QuixBugs
# at 4742262, one CODE rewrite each), and each cost an attempt that changed nothing.
UNCHANGED = "[Wren] The reply wrote `{name}` as it was, so it is asked again with its body out of view:]\n"
BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class Target:
    """A top-level function to write anew: `path` (workspace-relative), `name`, `source` (its text exactly as
    in the file, decorators and all, no trailing newline), `header` (its `def` line, stripped), `doc` (what it
    must do: its docstring, else the module's documentation strings), `uses` (outside_names) and `known` (the names the
    file's other top-level statements bind: top_level_names)."""
    path: str
    name: str
    source: str
    header: str
    doc: str
    uses: tuple[str, ...] = ()
    known: frozenset[str] = frozenset()

    def request(self, hidden: bool) -> str:
        """What the model is asked, on its own: SPEC (with USES when it `uses` any name) when `hidden`, else
        CODE."""
        if hidden:
            return spec(self.header, self.doc, self.uses)
        return CODE.format(code=self.source, doc=self.doc)

    def explain(self, new: str) -> str:
        """What the model is asked, on its own, for its answer once `new` replaced the function and the tests
        passed (EXPLAIN)."""
        return EXPLAIN.format(name=self.name, path=self.path, old=self.source, new=new)

    def note(self, number: int, most: int, hidden: bool) -> str:
        """The message that opens rewrite attempt `number` of `most` in the working context: NOTE, then the
        request (what the step asks, on its own: agent/rewrite_steps.py)."""
        return NOTE.format(n=number, most=most, name=self.name, path=self.path) + self.request(hidden)


def spec(header: str, doc: str, uses: tuple[str, ...]) -> str:
    """SPEC for a function whose `def` line is `header`, documented by `doc`, using `uses` (outside_names)."""
    names = USES.format(names=", ".join(f"`{n}`" for n in uses)) if uses else ""
    return SPEC.format(header=header, doc=doc, uses=names)


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
        lines = text.split("\n")
        source = _source(lines, chosen)
        if source.count("\n") + 1 > REWRITE_LINES:
            continue
        doc = ast.get_docstring(chosen) or "\n\n".join(
            node.value.value.strip() for node in tree.body
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))
        if not doc.strip():
            continue
        return Target(path=rel, name=chosen.name, source=source,
                      header=lines[chosen.lineno - 1].strip(), doc=doc.strip()[:DOC_CHARS],
                      uses=outside_names(chosen),
                      known=frozenset(n for statement in tree.body if statement is not chosen
                                      for n in top_level_names(statement)))
    return None


# Attributes of the built-in types and deque (`items`, `append`, `popleft`...): a model knows them untold.
BUILTIN_ATTRIBUTES = frozenset(a for kind in (dict, list, set, frozenset, str, bytes, tuple, int, float, deque)
                               for a in dir(kind))


def outside_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    """What `function` uses that its documentation may not name and its body defines nowhere, in order of first
    use: the module's names and imports it reads (`heapq`, `Node`), and the attributes it reads on other values
    (`node.successors`), those of the built-in types and of modules it imports itself left out. A rewrite from the
    documentation alone writes its own guesses of these (agent/rewrite.py, USES)."""
    bound, imported = {function.name, *dir(builtins)}, set()
    for node in ast.walk(function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            bound |= {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                     *filter(None, [arguments.vararg, arguments.kwarg])]}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)  # `except E as e`, `case [x, *rest]`
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, IMPORTS):
            imported |= top_level_names(node)
    found: dict[str, None] = {}
    for node in sorted((n for n in ast.walk(function) if isinstance(n, (ast.Name, ast.Attribute))),
                       key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound | imported:
            found[node.id] = None
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
              and node.attr not in BUILTIN_ATTRIBUTES):
            found[f"{node.value.id}.{node.attr}"] = None
    return tuple(found)


def is_rewrite(number: int, most: int) -> bool:
    """Whether attempt `number` (of `most`; the last has every tool) writes a function anew."""
    return number % REWRITE_EVERY == 0 and number < most


def is_hidden(number: int) -> bool:
    """Whether rewrite attempt `number` leaves the function's body out (the two ways take turns)."""
    return (number // REWRITE_EVERY) % 2 == 1


def definition(reply: str, name: str, known: frozenset[str] = frozenset()) -> str | None:
    """The source of the top-level `def name` (with its decorators) in `reply`'s fenced code blocks, or in
    `reply` itself when it has none, with the block's other top-level statements that bind a name it uses (at any
    depth: imports, functions, classes, constants) and its star imports, in the block's order; a statement that
    binds only `known` names (what the file defines already: a model's stand-in `class ListNode` would replace
    the file's) is left out. None when no block parses to one. Qwen2.5-Coder-1.5B wrote minimum_spanning_tree
    with `find` and `union` defined after it; taken alone, it would raise NameError."""
    for block in BLOCK.findall(reply) or [reply]:
        try:
            tree = ast.parse(block)
        except (SyntaxError, ValueError):
            continue
        target = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and n.name == name and n.end_lineno), None)
        if target is None:
            continue
        others = [(top_level_names(n), n) for n in tree.body if n is not target]
        kept, todo = [target, *(n for names, n in others if "*" in names)], list[ast.stmt]([target])
        while todo:
            used = {n.id for n in ast.walk(todo.pop()) if isinstance(n, ast.Name)}
            for names, statement in others:
                if statement not in kept and names & used and not names <= known:
                    kept.append(statement)
                    todo.append(statement)
        lines, out, before = block.split("\n"), "", None
        for statement in (n for n in tree.body if n in kept):
            if before is not None:  # a line between simple statements, two blank lines around definitions
                simple = not isinstance(before, DEFINITIONS) and not isinstance(statement, DEFINITIONS)
                out += "\n" if simple else "\n\n\n"
            out += _source(lines, statement)
            before = statement
        return out
    return None


IMPORTS = (ast.Import, ast.ImportFrom)
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def top_level_names(statement: ast.stmt) -> set[str]:
    """The names a module-level `statement` binds ("*" for a star import): a def's or class's name, an import's
    names, an assignment's target names."""
    if isinstance(statement, DEFINITIONS):
        return {statement.name}
    if isinstance(statement, IMPORTS):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    return set()


def _source(lines: list[str], node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return "\n".join(lines[first - 1:node.end_lineno])
