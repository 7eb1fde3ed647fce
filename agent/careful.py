"""The working method, enforced in careful sessions (local models; see SessionConfig.careful).

Each step here answers a failure read in a real small model's transcripts: the model is
oriented before its first step (agent/orient.py), a change made while the tests fail is tested
at once and put back when fewer tests pass (agent/baseline.py), an answer over untested or
failing changes is sent back, and a stuck attempt, or one whose fixes keep failing, starts
afresh (agent/attempts.py). One applies to every session: a
stuck model gets one step that may only answer (wrap_up). The checks around each tool call (a
tried edit refused, a worse change put back, a better one kept) are agent/call_checks.py. The loop
and the session call these functions; the state they read and keep is the session's.
"""
from __future__ import annotations

import inspect
import json
import uuid
from typing import TYPE_CHECKING

from wren.agent import calls, effort
from wren.agent.attempts import (BACK, CHANGE_FILES, FAILED_FIXES, KEPT, MAX_ATTEMPTS, MIN_STEPS, REFUSED_EDITS, RETURN,
                                 Attempt)
from wren.agent.narrowing import narrowed_edit
from wren.core.events import AssistantMessage, AttemptRestarted, UserMessage
from wren.core.messages import Message, ToolCall
from wren.agent.orient import local_imports, orient_calls
from wren.agent.rewrite import find_target, is_hidden, is_rewrite
from wren.context.manager import DIRECTIVE_CHARS
from wren.core.backend import choice_name
from wren.core.redact import redact
from wren.tools.checkpoints import CheckpointError, undo
from wren.tools.tests import is_test_path

if TYPE_CHECKING:
    from wren.agent.session import Session
    from wren.tools.workspace import Workspace

VERIFY = ("[Wren] Before you answer: you changed {} and the tests have not passed since. Run them with "
          "run_tests; if they fail, fix the code and run them again.]")
STILL_FAILING = ("[Wren] The tests still fail after your change to {} (see the last run_tests result), so the "
                 "task is not done. Read the error, fix the code and run the tests again; or answer that you "
                 "could not fix it.]")
NOTHING_CHANGED = ("[Wren] No file has changed: your edits failed (see their errors), and the last run_tests "
                   "failed, so the tests still fail. Read the file again, fix the code with edit_file (`old` "
                   "copied exactly from it) and run the tests; or answer that you could not fix it.]")
# A fresh attempt after a compaction evicted the turn's message: the summary block lists every request of the
# session, oldest first, none named the current one (chained tasks), so the attempt's first message says which.
RESTATED = " The task, as the user gave it: {task}"
VERIFY_ASKS = 2  # per turn: then the model's answer stands, whatever the tests say
WRAP_UP = ("[Wren] You are going in circles ({}). Stop calling tools: answer the user now from what you have "
           "found so far, and say what you could not find or do.]")


def orient(s: "Session", text: str) -> None:
    """Careful sessions: before the model's first step, run the test files the message names and
    read the files it names (see agent/orient.py). One call per assistant message, the shape a
    local model's steps have; each goes through approval like the model's own. A test file whose
    run failed with a report Wren understood is not read: the report already shows its failing
    line and locals, and Qwen2.5-Coder-1.5B, shown the whole test file, copied its lines
    (`assert lis(*input_data) == expected`, the `pytest.use_correct` switch) into edits of the
    program. Sets where the attempt starts (after these calls) and the test state they leave.

    When the model has been shown a failing run and the code it imports, its first step must be an
    edit_file call (or an answer): it has what it needs for a fix, and a 1.5B model left free searched
    for what it had just been shown (`search_code` of the error message led it into another program)."""
    if not s.careful:
        return
    tests = s.registry.tools.get("run_tests")
    allowed = tests is not None and s.policy.decide(tests)[0] == "allow"
    reported: set[str] = set()  # test files whose failing run the model sees
    failing: tuple[str, int] | None = None  # the last of those runs: (target, tests passed)
    first = len(s.context.manager.messages)
    code: list[str] = []  # files read that are not tests
    for call in orient_calls(text, s.workspace, allowed, f"wren-{uuid.uuid4().hex[:8]}"):
        args = json.loads(call.arguments)
        if call.name not in s.registry.tools or (call.name == "read_file" and args["path"] in reported):
            continue
        ok = wren_call(s, call)
        if call.name == "run_tests" and not ok and s.baseline.passed is not None and s.baseline.target == args["target"]:
            reported.add(args["target"])
            failing = (args["target"], s.baseline.passed)
        if call.name == "read_file" and ok and not is_test_path(args["path"]):
            code.append(args["path"])
    if failing is not None and s.baseline.target != failing[0]:
        # A test file run after it passed (one a kept change fixed: Attempt.best): the tests still fail, and
        # a change is tested on the failing one.
        s.baseline.tested(*failing)
        s._tests_failed = True
    s.attempt.start = len(s.context.manager.messages)
    # Its orienting calls are the working set a compaction leaves in place while they fit (ContextService.ensure_room).
    # Not the request before them: with its recalled passages and repo map it is large, and kept in place it
    # held a compaction off (SmolLM2, tests/test_context_steering_real.py); once evicted, a fresh attempt restates it.
    s.attempt.oriented_from = first if s.attempt.start > first else None
    s.attempt.oriented = (s.baseline.target, s.baseline.passed, s._tests_failed) if s.baseline.passed is not None else None
    s.attempt.edit_first = code if reported else []
    s.attempt.under_test = imported_by(sorted(reported), s.workspace)
    s.attempt.failing = sorted(reported)
    s.attempt.oriented_failure = s.attempt.observed
    edit_first(s)


def imported_by(tests: list[str], ws: "Workspace", most: int = 200) -> set[str]:
    """The workspace files (not tests) the files `tests` import, directly or through each other; empty
    (unknown) past `most` files, where a large repository's imports are not worth walking."""
    seen: set[str] = set()
    todo = list(tests)
    while todo:
        for rel in local_imports(todo.pop(), ws):
            if rel not in seen:
                seen.add(rel)
                todo.append(rel)
        if len(seen) > most:
            return set()
    return seen


def edit_first(s: "Session") -> None:
    """Make the attempt's next step an edit_file call or an answer, when orienting showed a failing
    run and code (Attempt.edit_first), the model is offered edit_file, and the backend takes tool_choice.
    A local model's grammar also narrows the call (narrowed_edit): one of those files, `old` one of its lines,
    after a reason that opens with the failing run's first failure (Attempt.observed)."""
    if not s.attempt.edit_first or s.attempt.number >= MAX_ATTEMPTS:  # the last attempt has every tool
        return
    offered = {tool["function"]["name"]: tool for tool in s.offered_tools()}
    if "edit_file" in offered and takes_tool_choice(s.backend):
        tried: dict[tuple[str, str], list[str]] = {}
        for path, old, new in s.tried_changes:
            tried.setdefault((path, old), []).append(new)
        # Redacted as the prompt is: the opening is written into the model's reply, which is logged.
        narrowed = narrowed_edit(offered["edit_file"], s.attempt.edit_first, s.workspace, s.attempt.refused, tried,
                                 redact(s.attempt.observed), s.attempt.refused_new)
        s.tool_choice = narrowed or "edit_file"


def wren_call(s: "Session", call: ToolCall) -> bool:
    """Make `call` as Wren, in its own assistant message and checkpoint batch, through approval and
    events like the model's calls. True when it succeeded."""
    s.record(Message(role="assistant", tool_calls=[call]), AssistantMessage(tool_calls=[call], by="wren"))
    s.checkpoints.new_batch(call.name)
    outcome = calls.run_tool_call(s, call)
    calls.end_batch(s)
    return outcome.ok


def test_change(s: "Session") -> None:
    """Careful sessions, after each model step: when the step changed files while the tests failed,
    Wren runs the last test target again itself, so the model sees at once what its change did (a
    local model's step to ask for that costs 10 to 40 s on a laptop CPU), and a change that makes
    fewer tests pass is put back (keep_or_revert). When FAILED_FIXES changes in a row left the tests
    failing, the attempt's theory is wrong: a fresh attempt starts, if one is left. Otherwise, while
    the tests fail, the next step is an edit or an answer too (edit_first), except in the last attempt,
    which has every tool: Qwen2.5-Coder-1.5B spent its free steps after a failed fix on `search_code`
    of the test's assert line, `compact`, `git diff` and edits of other programs. When every test file
    that failed when Wren oriented passes, the next step may only answer."""
    if not s.careful:
        return
    tests = s.registry.tools.get("run_tests")
    if (s._changed_since_tests and s._tests_failed and s.baseline.passed is not None and tests is not None
            and s.policy.decide(tests)[0] == "allow"):
        # The last target first; when it passes, every other test file that failed when Wren oriented.
        targets = [s.baseline.target, *(t for t in s.attempt.failing if t != s.baseline.target)]
        passed = all(wren_call(s, ToolCall(id=f"wren-{uuid.uuid4().hex[:8]}-test", name="run_tests",
                                           arguments=json.dumps({"target": target} if target else {})))
                     for target in targets)  # stops at the first that fails
        if passed and s.attempt.failing and takes_tool_choice(s.backend):
            # Every test file that failed passes: the next step may only answer. Qwen2.5-Coder-1.5B, told
            # the tests passed, edited on: it put gcd's fixed line back as it was (Wren reverted that).
            s.tool_choice = "none"
    if s.attempt.failed_fixes >= FAILED_FIXES and s._tests_failed:
        n = s.attempt.failed_fixes
        if fresh_attempt(s, "its change left the tests failing" if n == 1 else
                         f"{n} changes in a row left the tests failing"):
            return
    if s.attempt.refused_edits >= REFUSED_EDITS and s._tests_failed:
        # Qwen2.5-Coder-1.5B, its `if ...: return mid` refused as unparseable, appended ` return mid` to
        # four other lines of find_first_in_sorted in a row: the attempt's idea of an edit is broken.
        if fresh_attempt(s, f"{s.attempt.refused_edits} of its edits were refused"):
            return
    if s._tests_failed:
        edit_first(s)


def ask_to_verify(s: "Session") -> bool:
    """Before a final answer: when this turn changed files that no passing run_tests has checked
    since, send the model back (at most VERIFY_ASKS times a turn) to run the tests, or to fix the
    code when they failed, and return True; else False."""
    # Only where the tests run without asking: a check nobody may approve would only cost a step.
    tests = s.registry.tools.get("run_tests")
    # An answer after edits that all failed, over failing tests, claims a fix that is not there.
    # Once: its answer to that may well be "I could not fix it".
    unchanged = s._tests_failed and s._edits_failed and not s._files_changed and not s._verify_asks
    if (not effort.verifies(s) or not (s._unverified or unchanged) or s._verify_asks >= VERIFY_ASKS
            or tests is None or s.policy.decide(tests)[0] != "allow"):
        return False
    s._verify_asks += 1
    text = (NOTHING_CHANGED if not s._unverified else STILL_FAILING if s._tests_failed else VERIFY
            ).format(", ".join(s._unverified[:5]))
    s.record(Message(role="user", content=text), UserMessage(text=text, by="wren"))
    return True


def fresh_attempt(s: "Session", why: str) -> bool:
    """Careful sessions: when the model gave up or is stuck while the tests it ran still fail, and
    steps are left, start the turn over from its files and its message (see agent/attempts.py).
    True when a fresh attempt starts."""
    a, left = s.attempt, s.limits.steps_left()
    if (not s.careful or not s._tests_failed or a.number >= MAX_ATTEMPTS
            or (left is not None and left < MIN_STEPS)):
        return False
    # A compaction since the attempt began that evicted its start (and the user's message, which the
    # summary block keeps among the requests): then all that is left of the attempt goes, and Wren orients
    # again. One that left the attempt in place moved its start (Attempt.evicted).
    # Once a change that made more tests pass was kept (Attempt.best), attempts take turns between its files and
    # the turn's (Attempt.next_files); either way the files differ from those the context shows, and Wren orients
    # anew from where it oriented the attempt.
    kept, n = a.start_kept(s.context.compactions), a.number + 1
    best, back = a.next_files(last=n >= MAX_ATTEMPTS)
    moved = best is not None or back
    start = ((a.oriented_from or 0) if moved else a.start) if kept else 0
    restore = best[1] if best else a.checkpoint
    if (s._files_changed or moved) and restore is not None:
        try:
            undo(s.workspace.root, s.id, restore)
        except (CheckpointError, OSError) as exc:
            s.warn(f"no fresh attempt: the files could not be put back ({exc})")
            return False
    # What was tried and failed is held per files (Attempt.sides); a newly kept change starts from what its
    # attempt knew.
    sides, line_failures, resting = a.sides, a.line_failures, a.resting
    origin = best[1] if best else None
    if moved:
        sides = {**a.sides, a.origin: (s.tried_changes, a.line_failures, a.resting)}
        s.tried_changes, line_failures, resting = sides.pop(origin, (
            dict(s.tried_changes), dict(a.line_failures), dict(a.resting)))
    # A rewrite attempt (agent/rewrite.py) writes a function under test anew, from the files and test state
    # orienting saw, in a request of its own (agent/rewrite_steps.py); one in turn (`hidden`) shows only its
    # documentation. Not the first attempt from a newly kept change: that one fixes what still fails. Rewrites
    # and edits take turns on each side's files (Attempt.on_side); the last attempt has every tool.
    counts = {**a.counts, a.origin: a.on_side()}
    messages = s.context.manager.messages
    dropped = len(messages) - start
    del messages[start:]
    s.emit(AttemptRestarted(number=n, dropped=dropped, reason=why, files_from=origin))
    s.attempt = Attempt(number=n, start=start, compactions=s.context.compactions,
                        oriented_from=a.oriented_from if start else None,
                        checkpoint=a.checkpoint, oriented=None if moved else a.oriented, edit_first=a.edit_first,
                        under_test=a.under_test, failing=a.failing, line_failures=line_failures, resting=resting,
                        observed=a.oriented_failure, oriented_failure=a.oriented_failure, best=a.best,
                        origin=origin, refined=best[1] if best else a.refined, sides=sides, counts=counts)
    s.attempt.refused = s.attempt.tried_out(n)
    s._reset_attempt()
    s.limits.unstick()
    if best:  # the files differ from the turn's start: what they changed is the turn's
        s._files_changed = s._changed_this_turn()
    if not start or moved:
        orient(s, s._turn_text)
    elif a.oriented is not None:  # the files are as orienting saw them: so is the test state
        target, passed, s._tests_failed = a.oriented
        s.baseline.tested(target, passed)
    b = s.attempt
    rewrite_due = is_rewrite(b.on_side(), MAX_ATTEMPTS) and n < MAX_ATTEMPTS and not (best and best[1] != a.refined)
    if rewrite_due and b.oriented is not None:
        b.rewrite = find_target(b.edit_first, s.workspace, b.oriented_failure)
        b.hidden = b.rewrite is not None and is_hidden(b.on_side())
    note = restart_note(s, a, why, back) + ("" if start else RESTATED.format(task=s._turn_text[:DIRECTIVE_CHARS]))
    if b.rewrite is not None:
        s.tool_choice = "auto"  # a rewrite's step offers no tools (rewrite_steps.request), whatever orient() set
    elif start and not moved and a.oriented is not None:  # orient() did this where it ran
        edit_first(s)
    s.record(Message(role="user", content=note), UserMessage(text=note, by="wren"))
    return True


def restart_note(s: "Session", before: Attempt, why: str, back: bool) -> str:
    """The message that opens the session's new attempt, after `before` ended (`why`): a rewrite's request; where its
    files come from, when a change was kept (KEPT the first time, RETURN later, BACK at the turn's start); else
    Attempt.note."""
    a, n = s.attempt, s.attempt.number
    passed_then = before.oriented[1] if before.oriented else 0
    if a.rewrite is not None:
        return a.rewrite.note(n, MAX_ATTEMPTS, a.hidden)
    if a.origin is not None and a.best is not None and a.origin == before.refined:  # back to a change kept before
        return RETURN.format(n=n, most=MAX_ATTEMPTS, why=why, passed=a.best[0], before=passed_then)
    if a.origin is not None and a.best is not None:
        changed = ", ".join(s._files_changed[:CHANGE_FILES]) or "the files"
        return KEPT.format(n=n, most=MAX_ATTEMPTS, why=why, changed=changed, passed=a.best[0], before=passed_then)
    if back and a.best is not None:
        return BACK.format(n=n, most=MAX_ATTEMPTS, why=why, passed=a.best[0])
    return before.note(why)


def wrap_up(s: "Session", why: str) -> bool:
    """Any session, once a turn: when the model is stuck (repeating a call, or failing step after step)
    and no fresh attempt applies, its next step may only answer (`tool_choice` "none": the same tools
    stay in the prompt, so a local model's KV prefix holds, but the grammar or the provider allows a
    reply only). Qwen2.5-Coder-1.5B searched `exit codes` three times with the answer in its first
    result. True when the wrap-up step is set up; stuck again, the caller ends the turn."""
    # The budget the user set is not stretched; a backend that cannot be told "answer only" (one written
    # to the bare ModelBackend protocol) is not given a step it may spend on calls.
    if s.wrapped_up or s.limits.out_of_budget() or not takes_tool_choice(s.backend):
        return False
    s.wrapped_up, s.tool_choice = True, "none"
    s.limits.unstick(forget_calls=False)
    text = WRAP_UP.format(why.split(";")[0])
    s.record(Message(role="user", content=text), UserMessage(text=text, by="wren"))
    return True


def tool_choice_applies(s: "Session") -> bool:
    """Whether the next step's tool_choice (set for the model of the step before) still applies: a model
    switched mid-turn may take none, and only a careful session's model is told to edit."""
    if s.tool_choice == "auto" or not takes_tool_choice(s.backend):
        return False
    return s.careful or choice_name(s.tool_choice) == "none"


def takes(backend: object, parameter: str) -> bool:
    """Whether `backend.complete` takes `parameter`."""
    try:
        return parameter in inspect.signature(getattr(backend, "complete")).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def takes_tool_choice(backend: object) -> bool:
    """Whether `backend.complete` takes `tool_choice` (Wren's local, litellm and scripted backends do)."""
    return takes(backend, "tool_choice")
