"""Directives in the user's message that Wren enforces instead of leaving them to the model.

"Do not change the tests": a small model told so still edited them (Qwen2.5-Coder-1.5B on QuixBugs'
hanoi wrote the program over its test file, then claimed the tests passed). When the turn's message
says so (in any turn of the session: the directive stands), an edit or write of an existing test file
(tools/tests.py `is_test_path`) is refused before it runs, with the next step to take; without such a
directive, test edits run and are flagged in the result. Not covered: a shell command that writes a
test file (its changes are still listed in the result's `tests_changed`).
"""
from __future__ import annotations

import re
from typing import Any

from wren.core.errors import ToolError
from wren.tools.tests import is_test_path
from wren.tools.workspace import Workspace

# "do not change the tests", "don't modify any of the failing tests", "never edit tests", "without
# changing the tests", "the tests must not be modified", "leave the tests unchanged".
_VERB = r"(?:chang|modif|edit|touch|alter|weaken|rewrit|delet)\w*"
_TESTS = r"(?:the\s+|any\s+|(?:any|all)\s+of\s+the\s+|existing\s+|failing\s+|unit\s+)*tests?\b"
KEEP_TESTS = re.compile(
    rf"\b(?:do\s+not|don['\u2019]?t|never|without)\s+{_VERB}\s+{_TESTS}"
    rf"|\b{_TESTS}\s+(?:must|should|may)\s+not\s+be\s+{_VERB}"
    rf"|\bleave\s+{_TESTS}\s+(?:unchanged|alone|as\s+(?:they|it)\s+(?:are|is))", re.I)
REFUSED = ("{path} is a test file, and the user asked you not to change the tests: nothing was changed. Fix the "
           "code the tests call instead (the failing test's report names the function and the input it failed on).")


def keeps_tests(text: str) -> bool:
    """Whether `text` (the user's message) asks that the tests stay as they are."""
    return bool(KEEP_TESTS.search(text))


def check_test_edit(keep_tests: bool, kind: str, args: Any, workspace: Workspace) -> None:
    """ToolError when a call of kind "edit" names an existing test file (`args.path`) in a session whose
    user asked that the tests stay unchanged (`keep_tests`, see keeps_tests); else nothing."""
    path = getattr(args, "path", None)
    if kind != "edit" or not isinstance(path, str) or not keep_tests:
        return
    try:
        rel = workspace.rel(workspace.resolve(path))
    except ToolError:
        return  # the tool itself says what is wrong with the path
    # A new test file changes no test: "add a test for add(); do not change the existing tests".
    if is_test_path(rel) and (workspace.root / rel).exists():
        raise ToolError(REFUSED.format(path=rel))
