"""One tool call of a session: announced, checked, approved, checkpointed, run, and recorded.

The loop and the careful working method call these functions; the state they read and
keep is the session's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from wren.agent import call_checks
from wren.agent import switches
from wren.agent.directives import check_test_edit
from wren.agent.limits import next_call
from wren.agent.steering import SessionSteering
from wren.context.manager import tool_message
from wren.core.errors import ToolError
from wren.core.events import (ApprovalRequested, ApprovalResolved, PlanUpdated, ToolCallEvent, ToolProgress,
                               ToolResultEvent, ToolStarted)
from wren.core.messages import ToolCall
from wren.core.ops import ApprovalDecision, Interrupt
from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.checkpoints import CheckpointError
from wren.tools.tests import is_test_path

if TYPE_CHECKING:
    from wren.agent.session import Session

TEST_EDITED = ("\n[{} is a test file. Change tests only when the user asked for it; to make failing tests "
               "pass, fix the code they test. The result lists changed test files.]")
REPEATED = ("\n[You made this same call before and got the same result, and no file has changed since. "
            "Repeating it changes nothing: use what it says, or try another tool, other arguments or another "
            "file. {next}One more repeat ends the turn.]")


@dataclass
class CallOutcome:
    """How one tool call ended: `ok` as its result says; `denied` when approval refused it."""
    ok: bool
    denied: bool = False


def tool_context(s: "Session", call_id: str) -> ToolContext:
    def progress(text: str = "", terminal_id: str | None = None) -> None:
        s.emit(ToolProgress(call_id=call_id, text=text, terminal_id=terminal_id))

    return ToolContext(s.workspace, s.interrupt, s.limits.deadline, recall=s.context.recall,
                       steer=SessionSteering(s), sandbox=s.sandbox, call_id=call_id, config=s.config,
                       read_paths=s._read_paths, strict_reads=s.careful, progress=progress,
                       files=s.cfg.files, commands=s.cfg.commands, room=s.context.result_room())


def announce(s: "Session", call: ToolCall, ctx: ToolContext, kind: str) -> tuple[Tool, BaseModel] | ToolError:
    """Emits the ToolCallEvent of `call`, with the tool's title and preview; returns the tool and its
    arguments, or the ToolError that says why the call cannot run."""
    event = ToolCallEvent(call_id=call.id, name=call.name, arguments=call.arguments, kind=kind, title=call.name)
    try:
        prepared = tool, args = s.registry.prepare(call.name, call.arguments)
    except ToolError as exc:
        s.emit(event)
        return exc
    s.emit(event.model_copy(update=tool.describe(args, ctx)))
    return prepared


def unique_call_ids(s: "Session", calls: list[ToolCall]) -> list[ToolCall]:
    """`calls` with each id unique in the session: one used before gets a suffix (`call_0_0_2`)."""
    out = []
    for call in calls:
        new, n = call.id, 1
        while new in s._call_ids:
            n += 1
            new = f"{call.id}_{n}"
        s._call_ids.add(new)
        out.append(call if new == call.id else call.model_copy(update={"id": new}))
    return out


def run_tool_call(s: "Session", call: ToolCall) -> CallOutcome:
    """Run one call of the model's (or Wren's own) and record its result message and events; every
    failure (bad arguments, a refused path, a denial, an OSError) becomes the result's text."""
    started = time.monotonic()
    s._call_ids.add(call.id)  # Wren's own calls (orienting) too
    ctx = tool_context(s, call.id)
    tool_kind = s.registry.tools[call.name].kind if call.name in s.registry.tools else "other"
    prepared = announce(s, call, ctx, tool_kind)
    denied = False
    try:
        if s.interrupt.is_set():
            raise ToolError("skipped: the user interrupted the turn")
        if isinstance(prepared, ToolError):
            raise prepared
        tool, args = prepared
        check_test_edit(s.keep_tests, tool.kind, args, s.workspace)
        call_checks.check_tried(s, args)
        allowed, message = approve(s, call, tool, args, ctx)
        if allowed:
            if tool.mutating:
                checkpoint(s, args)
            s.emit(ToolStarted(call_id=call.id))
            result = tool.run(args, ctx)
        else:
            denied = True
            result = ToolResult(ok=False, output=f"Denied: {message}")
    except ToolError as exc:
        result = ToolResult(ok=False, output=f"Error: {exc}")
    except OSError as exc:
        result = ToolResult(ok=False, output=f"Error: {exc.strerror or exc} ({exc.filename or call.name})")
    if s.limits.note_call(call.name, call.arguments, result.output) == 2:
        hint = next_call(call.name, result.output)
        note = REPEATED.format(next=hint + " " if hint else "")
        result = result.model_copy(update={"output": result.output + note})
    if result.plan is not None:
        s.context.manager.plan = result.plan
        s.emit(PlanUpdated(steps=result.plan))
    for path in result.files_changed:
        if path not in s._files_changed:
            s._files_changed.append(path)
    if call.name == "run_tests" and s.careful and result.tests_passed is not None:
        result = call_checks.keep_or_revert(s, call, result)
    elif call.name == "run_tests" and s.careful:  # output not understood: no failure for a reason to start from
        s.attempt.observed = ""
    if call.name == "run_tests":
        s._tests_failed, s._changed_since_tests = not result.ok, False
        if result.ok:
            s._unverified = []
    s._unverified += [path for path in result.files_changed if path not in s._unverified]
    s._edits_failed += tool_kind == "edit" and not result.ok
    s._changed_since_tests = s._changed_since_tests or bool(result.files_changed)
    if result.files_changed:
        s.limits.changed()
    if result.diff and result.files_changed:
        s.attempt.changes.append(result.diff)
    result = call_checks.changed(s, None if isinstance(prepared, ToolError) else prepared[1], result)
    if tests := [path for path in result.files_changed if is_test_path(path)]:
        result = result.model_copy(update={"output": result.output + TEST_EDITED.format(", ".join(tests))})
    s.record(tool_message(call.id, call.name, result.output, result.images),
                ToolResultEvent(call_id=call.id, name=call.name, ok=result.ok, output=result.output,
                                diff=result.diff, exit_code=result.exit_code, files_changed=result.files_changed,
                                full_output=result.full_output, images=result.images,
                                duration_s=round(time.monotonic() - started, 3)))
    return CallOutcome(ok=result.ok, denied=denied)


def checkpoint(s: "Session", args: object = None) -> None:
    """Before a mutating call: the batch's checkpoint, holding the file the call names (`path`)."""
    named = []
    if isinstance(path := getattr(args, "path", None), str):
        try:
            named.append(s.workspace.rel(s.workspace.resolve(path, write=True)))
        except ToolError:
            pass  # the tool refuses this path itself
    try:
        s._batch_checkpoint = s.checkpoints.before_mutation(named) or s._batch_checkpoint
        s.baseline.checkpoint_taken(s._batch_checkpoint)
        if s.attempt.checkpoint is None:
            s.attempt.checkpoint = s._batch_checkpoint
    except (CheckpointError, OSError) as exc:
        s.warn(f"no checkpoint before this step, so `wren undo` cannot undo it: {exc}")


def end_batch(s: "Session") -> None:
    """After the calls of one assistant message: a batch that changed no file leaves no checkpoint."""
    taken, s._batch_checkpoint = s._batch_checkpoint, None
    try:
        if s.checkpoints.end_batch():
            s.baseline.checkpoint_dropped(taken)
            if taken is not None and taken == s.attempt.checkpoint:
                s.attempt.checkpoint = None
    except (CheckpointError, OSError) as exc:
        # The checkpoint stays; undo still skips it, since it picks the newest one that differs.
        s.warn(f"could not tell whether this step changed files: {exc}")


def approve(s: "Session", call: ToolCall, tool: Tool, args: BaseModel, ctx: ToolContext) -> tuple[bool, str]:
    verdict, reason = s.policy.decide(tool, args)
    if verdict == "allow":
        return True, reason
    if verdict == "ask" and s.cfg.interactive:
        # The preview again, not the call's: the file may have changed while the model's batch ran.
        described = tool.describe(args, ctx)
        s.emit(ApprovalRequested(call_id=call.id, name=call.name, arguments=call.arguments, reason=reason,
                                    always=s.policy.always_label(tool, args),
                                    summary=switches.one_line(s, described), **described))
        decision = await_decision(s, call.id)
        s.emit(ApprovalResolved(call_id=call.id, decision=decision.decision, message=decision.message))
        if decision.decision == "allow_always":
            s.policy.remember(tool, args)
        return decision.decision != "deny", decision.message or "the user denied this call"
    if verdict == "ask":
        reason += "; headless runs never wait for approval"
        reason += "" if s.policy.mode == "auto" else " (use --approval auto-edit or auto)"
    s.emit(ApprovalResolved(call_id=call.id, decision="deny", message=reason, by="policy"))
    return False, reason


def await_decision(s: "Session", call_id: str) -> ApprovalDecision:
    while True:
        op = s._ops.get()
        if isinstance(op, ApprovalDecision) and op.call_id == call_id:
            return op
        if isinstance(op, Interrupt):
            return ApprovalDecision(call_id=call_id, decision="deny", message="interrupted by the user")
        s._pending.append(op)  # user input or shutdown waits for the turn to end
