"""Orienting a careful session before the model's first step of a turn.

The files the user's message names are read (with the local modules they import), and the
test files it names are run, as tool calls Wren makes itself, through the same approval and
events as the model's. A small model left to find them starts from a guess (on QuixBugs,
Qwen2.5-Coder-1.5B grepped for `TypeError` in another program, or edited knapsack.py for a
gcd task); shown the failing output and the code, it makes the fix. Editors do the same for
`@file` mentions.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import PurePosixPath
from typing import Any

from wren.core.messages import ToolCall
from wren.core.errors import ToolError
from wren.tools.tests import is_test_path
from wren.tools.workspace import Workspace

# A path-like word with an extension: `src/app.py`, `./x.ts`, `test_gcd.py`.
MENTION = re.compile(r"[\w./-]*\w\.[A-Za-z]\w*")
MAX_READS = 4  # files read for the model: each costs up to read_file's page of the window
IMPORT_BYTES = 200_000  # a larger file is not parsed for its imports


def mentioned_files(text: str, ws: Workspace) -> list[str]:
    """Workspace-relative paths of the existing files `text` names, in the order named, no repeats.

    Words that are not files (`e.g.`, `wren.toml` when absent) and paths that leave the workspace
    are skipped."""
    found: list[str] = []
    for word in MENTION.findall(text):
        try:
            path = ws.resolve(word.rstrip("."))
        except ToolError:
            continue
        if path.is_file() and (rel := ws.rel(path)) not in found:
            found.append(rel)
    return found


def local_imports(rel: str, ws: Workspace) -> list[str]:
    """Workspace files (not tests) that the Python file `rel` imports, in import order.

    A module `a.b` is looked for as `a/b.py` or `a/b/__init__.py` under the workspace root and
    under the file's own folder (how pytest's rootdir and script-folder imports find it);
    `from a import b` also tries the submodule `a/b.py`. Imports that are not files here
    (the standard library, installed packages, a module that does not exist) are skipped.
    Other languages: nothing (their imports do not name files this plainly)."""
    if not rel.endswith(".py"):
        return []
    path = ws.root / rel
    try:
        if path.stat().st_size > IMPORT_BYTES:
            return []
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    folder = PurePosixPath(rel).parent
    modules: list[tuple[PurePosixPath, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [(PurePosixPath(), alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = PurePosixPath()
            if node.level:  # relative: from the file's package, one folder up per extra dot
                base = folder
                for _ in range(node.level - 1):
                    base = base.parent
            if node.module:
                modules.append((base, node.module))
            modules += [(base, f"{node.module}.{a.name}" if node.module else a.name) for a in node.names]
    found: list[str] = []
    for base, module in modules:
        parts = module.split(".")
        for start in dict.fromkeys([base, folder]):
            for candidate in (start.joinpath(*parts).with_suffix(".py"), start.joinpath(*parts, "__init__.py")):
                text = candidate.as_posix()
                if text != rel and text not in found and not is_test_path(text) and (ws.root / text).is_file():
                    found.append(text)
    return found


def orient_calls(text: str, ws: Workspace, run_tests: bool, prefix: str) -> list[ToolCall]:
    """The calls that orient the model for a message: run_tests on each test file it names (when
    `run_tests`: the policy runs tests without asking), then read_file on each file it names and
    on the local modules those import, at most MAX_READS reads. Call ids are `prefix`-N."""
    named = mentioned_files(text, ws)
    calls: list[tuple[str, dict[str, Any]]] = []
    if run_tests:
        calls += [("run_tests", {"target": rel}) for rel in named if is_test_path(rel)]
    reads: list[str] = []
    for rel in named:
        reads += [p for p in [rel, *local_imports(rel, ws)] if p not in reads]
    calls += [("read_file", {"path": rel}) for rel in reads[:MAX_READS]]
    return [ToolCall(id=f"{prefix}-{n}", name=name, arguments=json.dumps(args))
            for n, (name, args) in enumerate(calls, 1)]
