"""Directives in the user's message that Wren enforces instead of leaving them to the model.

"Do not change the tests": a small model told so still edited them (Qwen2.5-Coder-1.5B on QuixBugs'
hanoi wrote the program over its test file, then claimed the tests passed). When the turn's message
says so, an edit or write of a test file (tools/tests.py `is_test_path`) is refused before it runs,
with the next step to take; without such a directive, test edits run and are flagged in the result.
"""
from __future__ import annotations

import re
from typing import Any

from wren.core.errors import ToolError
from wren.tools.tests import is_test_path
from wren.tools.workspace import Workspace

# "do not change the tests", "don't modify any test files", "never edit tests", "without touching the tests"
KEEP_TESTS = re.compile(r"\b(?:do\s+not|don'?t|never|without)\s+(?:change|modif|edit|touch|alter|weaken|rewrite)"
                        r"\w*\s+(?:the\s+|any\s+|existing\s+)*(?:unit\s+)?tests?\b", re.I)
REFUSED = ("{path} is a test file, and the user asked you not to change the tests: nothing was changed. Fix the "
           "code the tests call instead (the failing test's report names the function and the input it failed on).")


def keeps_tests(text: str) -> bool:
    """Whether `text` (the user's message) asks that the tests stay as they are."""
    return bool(KEEP_TESTS.search(text))


def check_test_edit(turn_text: str, kind: str, args: Any, workspace: Workspace) -> None:
    """ToolError when a call of kind "edit" names a test file (`args.path`) in a turn whose message asks
    that the tests stay unchanged; else nothing."""
    path = getattr(args, "path", None)
    if kind != "edit" or not isinstance(path, str) or not keeps_tests(turn_text):
        return
    try:
        rel = workspace.rel(workspace.resolve(path))
    except ToolError:
        return  # the tool itself says what is wrong with the path
    if is_test_path(rel):
        raise ToolError(REFUSED.format(path=rel))
