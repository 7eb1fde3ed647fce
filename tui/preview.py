"""What a tool call will do, shown before the user approves it: the diff of an edit, the command of a shell.

Computed read-only from the workspace as it is now, with the same matching the edit tools use.
"""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from wren.core.errors import ToolError
from wren.core.fileio import TextFile, unified_diff
from wren.tools.matching import apply, find
from wren.tools.workspace import Workspace


def parse_arguments(raw: str) -> dict:
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


def diff_view(diff: str) -> Syntax:
    # ANSI theme: the terminal's own palette, so diffs read well in light and dark themes.
    return Syntax(diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default", word_wrap=True)


def planned_diff(name: str, args: dict, root: Path) -> str:
    """The unified diff edit_file or write_file would produce; ToolError or OSError when it cannot apply."""
    workspace = Workspace(root)
    path = workspace.resolve(str(args.get("path", "")), write=True)
    rel = workspace.rel(path)
    before = TextFile.read(path).text if path.is_file() else ""
    if name == "write_file":
        return unified_diff(rel, before, str(args.get("content", "")).replace("\r\n", "\n"))
    if not path.is_file():
        raise ToolError(f"{rel} does not exist")
    old, new = str(args.get("old", "")).replace("\r\n", "\n"), str(args.get("new", "")).replace("\r\n", "\n")
    matches = find(before, old, new, bool(args.get("replace_all", False)))
    return unified_diff(rel, before, apply(before, matches))


def preview(name: str, raw_args: str, root: Path) -> RenderableType:
    args = parse_arguments(raw_args)
    if name in ("edit_file", "write_file"):
        try:
            diff = planned_diff(name, args, root)
        except (ToolError, OSError) as exc:
            return Group(Text(f"The edit does not apply as it stands: {exc}", style="bold"),
                         Text(json.dumps(args, indent=2)))
        return diff_view(diff) if diff else Text("(no change)")
    if name == "shell":
        timeout = args.get("timeout_s")
        return Group(Text.assemble(("$ ", "bold"), str(args.get("command", ""))),
                     Text(f"in {root}" + (f" · timeout {timeout:g}s" if isinstance(timeout, (int, float)) else "")))
    return Text(json.dumps(args, indent=2) if args else raw_args)
