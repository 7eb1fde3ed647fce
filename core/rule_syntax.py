"""The syntax of allow and deny rules (`tool` or `tool(pattern)`), so that config can check them
when it loads. How rules judge calls is agent/rules.py."""
from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Callable

from wren.core.errors import ConfigError
from wren.core.globs import compile_glob

PATH_TOOLS = ("read_file", "list_files", "grep", "edit_file", "write_file")
# Wren's tools (../shared/ARCHITECTURE.md; tests/test_policy_rules.py checks this against the registry).
# MCP tools are named mcp__SERVER__TOOL (tools/mcp.py).
TOOL_NAMES = PATH_TOOLS + ("shell", "run_tests", "update_plan", "recall", "search_code", "compact", "forget", "pin")
MCP_PREFIX = "mcp__"
_RULE = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:\((.*)\))?\s*", re.DOTALL)


@dataclass(frozen=True)
class Rule:
    tool: str
    pattern: str | None  # None: any call of the tool
    session: bool = False  # remembered from "allow always", not from the config
    _match: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}({self.pattern})"

    def matches(self, tool: str, subject: str | None) -> bool:
        if tool != self.tool:
            return False
        return self._match is None or (subject is not None and self._match(subject))


def parse_rule(text: str, *, session: bool = False) -> Rule:
    """`tool` or `tool(pattern)`; ConfigError naming the rule when it is malformed."""
    m = _RULE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ConfigError(f"bad policy rule {text!r}: write `tool` or `tool(pattern)`, such as "
                          "shell(git status*) or edit_file(docs/**)")
    tool, pattern = m.group(1), m.group(2)
    if tool not in TOOL_NAMES and not tool.startswith(MCP_PREFIX):
        # A rule naming no tool matches nothing: a misspelt deny rule would let the calls it meant run.
        near = difflib.get_close_matches(tool, TOOL_NAMES, n=1)
        raise ConfigError(f"bad policy rule {text!r}: there is no tool {tool!r}"
                          + (f" (did you mean {near[0]}?)" if near else "")
                          + f"; the tools are {', '.join(TOOL_NAMES)}, and MCP tools are {MCP_PREFIX}SERVER__TOOL")
    if pattern is None:
        return Rule(tool, None, session)
    pattern = pattern.strip()
    if not pattern:
        raise ConfigError(f"bad policy rule {text!r}: the pattern is empty; write `{tool}` for every call")
    if tool == "shell":
        pattern = " ".join(pattern.split())
        regex = re.compile(fnmatch.translate(pattern))
        return Rule(tool, pattern, session, lambda command: regex.fullmatch(command) is not None)
    if tool in PATH_TOOLS:
        return Rule(tool, pattern, session, _path_glob(text, pattern))
    raise ConfigError(f"bad policy rule {text!r}: a pattern applies to shell (the command) or to a path tool "
                      f"({', '.join(PATH_TOOLS)}); write `{tool}` alone for every call of it")


def _path_glob(text: str, pattern: str) -> Callable[[str], bool]:
    """gitignore style (core/globs.py): `**` crosses directories, `*` does not; a pattern without a slash
    matches at any depth, one with a slash from the workspace root; a directory covers what is inside it."""
    if pattern.startswith("!"):
        raise ConfigError(f"bad policy rule {text!r}: negation (!) is not supported; use allow and deny rules")
    if ".." in pattern.split("/"):
        raise ConfigError(f"bad policy rule {text!r}: paths are relative to the workspace; '..' never matches")
    return compile_glob(pattern)
