"""Careful sessions' checks around each tool call (see SessionConfig.careful; the working method is agent/careful.py).

Before an edit: one this turn already made and the tests failed after is refused, as is a change no test can
see (check_tried). After it: the change waits for the next run_tests, and one outside the code the failing
tests import is told so (changed). After a run_tests: a run that passed fewer tests than the last puts the
files back, and one that passed more than ever in the turn is checkpointed (keep_or_revert, keep_best).
The state they read and keep is the session's; agent/calls.py calls them.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from wren.agent.baseline import REVERTED
from wren.agent.narrowing import line_key
from wren.core.errors import ToolError
from wren.core.messages import ToolCall
from wren.tools.base import ToolResult
from wren.tools.checkpoints import CheckpointError, undo
from wren.tools.syntax import same_python
from wren.tools.tests import is_test_path

if TYPE_CHECKING:
    from wren.agent.session import Session

TRIED = ("this same change to {path} was made before in this turn, and the tests failed after it ({outcome}). "
         "Nothing was changed: make a different fix.")
UNSEEN = ("this change to {path} changes only whitespace or comments, which no test can see. Nothing was "
          "changed: change the code itself.")
OUTSIDE = ("\n[Wren] The failing tests do not import {} (they import {}), so this change cannot make them "
           "pass: fix the code they run.]")
NOW_PASSING = "\n[Wren] The tests pass now. Answer: say what you changed and why.]"


def change_key(s: "Session", args: object) -> tuple[str, str, str] | None:
    """An edit_file call's (workspace path, narrowing.line_key of old and its `line`, new with whitespace runs
    made one space); None for other calls."""
    path, old, new, line = (getattr(args, name, None) for name in ("path", "old", "new", "line"))
    if not (isinstance(path, str) and isinstance(old, str) and isinstance(new, str)):
        return None
    try:
        path = s.workspace.rel(s.workspace.resolve(path))
    except ToolError:
        return None
    return path, line_key(old, line if isinstance(line, int) else None), " ".join(new.split())


def check_tried(s: "Session", args: object) -> None:
    """Careful sessions: ToolError for an edit this turn already made, after which the tests failed (in
    any attempt), and, while the tests fail, for a change of Python code in whitespace or comments only. Qwen2.5-Coder-1.5B made `pivot = arr[1]` in kth three times, once after Wren had put
    it back for making fewer tests pass, twice more in later attempts."""
    key = change_key(s, args) if s.careful else None
    if key is not None and key in s.tried_changes:
        # Qwen2.5-Coder-1.5B, refused, made the same edit with the same reason twice more (gcd): the rest of
        # this attempt's narrowed steps leave the line out (a later attempt may change it another way).
        s.attempt.refused.add(key[:2])
        raise ToolError(TRIED.format(path=key[0], outcome=s.tried_changes[key]))
    # While the tests fail, an edit of Python that no test can see: Qwen2.5-Coder-1.5B turned
    # `def kheapsort(arr, k):` into `def kheapsort(arr, k) :`, and the test run after it cost an attempt.
    if (key is not None and s._tests_failed and key[0].endswith(".py")
            and line_key(getattr(args, "old")) != key[2] and same_python(getattr(args, "old"), getattr(args, "new"))):
        s.attempt.refused.add(key[:2])
        raise ToolError(UNSEEN.format(path=key[0]))


def changed(s: "Session", args: object, result: ToolResult) -> ToolResult:
    """After any call: an edit that changed a file is remembered until the next run_tests (check_tried),
    and a change outside the code the failing tests import is told so (outside_tested_code). An edit whose
    `new` restates its `old`, or that was refused, leaves that line out of the attempt's narrowed steps: Qwen2.5-Coder-1.5B, its
    fix tested and failing, restated the line it had written, with the same reason, three times in a row
    (gcd, 3 attempts of 6 ended so)."""
    key = change_key(s, args) if args is not None else None
    if key and result.files_changed:
        s.attempt.untested.append(key)
    elif key and line_key(getattr(args, "old")) == key[2] and s.careful:
        s.attempt.refused.add(key[:2])
    elif key and not result.ok and s.careful:
        # Refused (a change that would not parse, a denial): Qwen2.5-Coder-1.5B sent the same edit five
        # times in a row after "this change would leave find_first_in_sorted.py unable to parse". The line
        # is left out of the attempt's narrowed steps; REFUSED_EDITS of them end the attempt (test_change).
        s.attempt.refused.add(key[:2])
        s.attempt.refused_edits += 1
        s.attempt.refused_new.add(getattr(args, "new"))
    return outside_tested_code(s, result)


def outside_tested_code(s: "Session", result: ToolResult) -> ToolResult:
    """Careful sessions, while the tests fail: a change to a file the failing test files do not import
    (at any depth) is told so. Qwen2.5-Coder-1.5B, fixing lis, searched for `KeyError` and edited
    possible_change.py, a program no failing test runs."""
    code = s.attempt.under_test
    # Python files only: data files and other languages reach the tests in ways imports do not show.
    outside = [p for p in result.files_changed if p.endswith(".py") and p not in code and not is_test_path(p)]
    if not s.careful or not s._tests_failed or not code or not outside:
        return result
    note = OUTSIDE.format(", ".join(outside[:3]), ", ".join(sorted(code)[:5]))
    return result.model_copy(update={"output": result.output + note})


def keep_or_revert(s: "Session", call: ToolCall, result: ToolResult) -> ToolResult:
    """Careful sessions (see agent/baseline.py): when this run passed fewer tests than the last run of
    the same target, put the files back as they were then and say so; else it is the new baseline."""
    passed = result.tests_passed
    if passed is None:  # output not understood: nothing to compare (the caller checks this too)
        return result
    try:
        target = json.loads(call.arguments or "{}").get("target")
    except (json.JSONDecodeError, AttributeError):
        return result
    untested, s.attempt.untested = s.attempt.untested, []
    if s._changed_since_tests and target == s.baseline.target:  # a change tested: did it help?
        helped = result.ok or (s.baseline.passed is not None and passed > s.baseline.passed)
        s.attempt.failed_fixes = 0 if helped else s.attempt.failed_fixes + 1
        if not helped:
            outcome = next((line for line in result.output.splitlines() if line.startswith("Tests (")), "failed")
            s.tried_changes.update(dict.fromkeys(untested, outcome.rstrip(".")))
            # The line a failed fix wrote is not offered again in this attempt: Qwen2.5-Coder-1.5B's next
            # fix put it back (`return mid - 1` to `return mid`, find_first_in_sorted, two attempts of six),
            # a step spent where the fresh attempt after it puts the files back anyway.
            s.attempt.refused.update((path, new) for path, _, new in untested)
            for path, old, _ in untested:
                s.attempt.line_failed((path, old))
        if result.ok and s._tests_failed and len(s.attempt.failing) <= 1:
            # Qwen2.5-Coder-1.5B, its gcd fix passing, went on editing the fixed line (two more steps).
            result = result.model_copy(update={"output": result.output + NOW_PASSING})
    n = s.baseline.regressed(target, passed)
    if n is None:  # the files stay as this run found them: its first failure is what the next reason starts from
        s.baseline.tested(target, passed)
        if not result.ok:  # a passing run leaves it: no narrowed step follows one (orienting may run several files)
            s.attempt.observed = result.first_failure or ""
        keep_best(s, target, passed)  # passing too: another test file that failed may still fail
        return result
    try:
        report = undo(s.workspace.root, s.id, n)
    except (CheckpointError, OSError) as exc:
        s.warn(f"could not put back the change that made fewer tests pass: {exc}")
        return result
    s.baseline.waiting = True  # the files are the baseline run's again; its count stands
    s.limits.changed()
    files = ", ".join(report.modified + report.recreated + report.removed) or "the files"
    note = REVERTED.format(files=files, now=passed, before=s.baseline.passed)
    s._unverified = []
    return result.model_copy(update={"output": result.output + note})


def keep_best(s: "Session", target: str | None, passed: int) -> None:
    """Careful sessions, after a run of the target Wren oriented the turn with, whose files stay: when more of its
    tests passed than ever in the turn since orienting, and no test file differs from the turn's start (a test
    made to pass is no progress), checkpoint the files (Attempt.best), those the turn changed included."""
    a = s.attempt
    if (a.oriented is None or a.checkpoint is None or target != a.oriented[0]
            or passed <= max(a.oriented[1], a.best[0] if a.best else -1)):
        return
    try:
        if any(is_test_path(path) for path in s.checkpoints.changed_since(a.checkpoint)):
            return
        a.best = (passed, s.checkpoints.save(f"a run where {passed} test{'s' * (passed != 1)} passed",
                                             s._files_changed))
    except (CheckpointError, OSError) as exc:
        s.warn(f"could not checkpoint the files where {passed} tests passed; a fresh attempt starts without them: {exc}")
