"""The plan-act loop: prompt, model, tools (through approval), repeat until an answer or a stop."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wren.agent import calls, careful, effort, rewrite_steps, switches
from wren.agent.rate_gate import RateGate
from wren.core.errors import ModelError, StreamStopped
from wren.core.events import AssistantDelta, AssistantMessage, Status, ThoughtDelta, UsageEvent
from wren.core.messages import Message, redacted
from wren.core.backend import ModelReply

if TYPE_CHECKING:
    from wren.agent.session import Session


@dataclass
class TurnOutcome:
    status: Status
    summary: str = ""
    reason: str = ""


def run_turn(s: "Session") -> TurnOutcome:
    denied = 0
    while True:
        switches.apply_settings(s)  # a model switch asked for mid-turn takes effect at the next step
        if s.interrupt.is_set():
            return TurnOutcome("interrupted", reason="interrupted by the user")
        if why := s.limits.exceeded():
            if s.limits.stuck() and (careful.fresh_attempt(s, "it was stuck: " + why.split(";")[0])
                                     or careful.wrap_up(s, why)):
                continue
            return TurnOutcome("limit", reason=why)
        try:
            reply = call_model(s)
        except StreamStopped as stop:
            return TurnOutcome(stop.status, reason=stop.reason)
        s.limits.steps += 1
        reply.tool_calls = calls.unique_call_ids(s, reply.tool_calls)
        s.record(Message(role="assistant", content=reply.content, tool_calls=reply.tool_calls,
                         thinking_blocks=reply.thinking_blocks),
                 AssistantMessage(content=reply.content, tool_calls=reply.tool_calls))
        if not reply.tool_calls:
            if rewrite_steps.rewritten(s, reply.content):  # a rewrite attempt's function, put in place and tested
                continue
            if careful.ask_to_verify(s):  # changed files, untested: once per turn, the model runs the tests first
                continue
            if careful.fresh_attempt(s, "the tests still failed when it answered"):
                continue
            if denied:
                return TurnOutcome("denied", summary=reply.content,
                                   reason=f"{denied} tool call(s) refused by the approval policy")
            if failing := s.changed_and_failing():  # the model's word is not the result: the tests are
                return TurnOutcome("failed", summary=reply.content,
                                   reason=f"the tests still fail after this turn's changes to {failing}")
            if s.attempt.number > 1 and s._tests_failed:  # every attempt's fixes failed and were put back
                return TurnOutcome("failed", summary=reply.content, reason=(
                    f"the tests still fail: {s.attempt.number} attempts at a fix, each put back"))
            return TurnOutcome("success", summary=reply.content)
        failed = 0
        s.checkpoints.new_batch(", ".join(call.name for call in reply.tool_calls))
        for call in reply.tool_calls:
            result = calls.run_tool_call(s, call)
            failed += not result.ok
            denied += result.denied
        calls.end_batch(s)
        # A step counts as an error only when every call in it failed: the model is stuck.
        s.limits.consecutive_errors = s.limits.consecutive_errors + 1 if failed == len(reply.tool_calls) else 0
        careful.test_change(s)  # careful sessions: a change is tested at once; failed fixes start afresh


def call_model(s: "Session") -> ModelReply:
    """One model call, with exponential backoff on retryable provider errors only.

    A provider's context-window error gets one compaction and one more try.
    """
    policy, gate = s.backend.retry, RateGate.from_env()
    s.make_room()
    overflowed, attempt = False, 0  # separate: a compaction retry does not use up a backoff attempt

    def on_delta(text: str) -> None:
        s.check_stop()  # at every chunk, so an interrupt or the time limit cuts a reply within a chunk
        if text:
            s.emit(AssistantDelta(text=text))  # logged as it comes: a cut reply keeps what arrived

    while True:
        gate.wait(s.backend.name, s.check_stop, s.warn)  # another worker of a batch may have hit a 429
        try:
            extra: dict[str, Any] = {"effort": s.effort} if effort.applies(s) else {}
            prompt, tools = rewrite_steps.request(s, s.context.manager.prompt(), s.offered_tools())
            if careful.tool_choice_applies(s) and tools:  # see careful.wrap_up and careful.edit_first
                extra["tool_choice"] = s.tool_choice
            if opening := rewrite_steps.reply_opening(s):  # a rewrite attempt's reply opens with a code fence
                extra["opening"] = opening
            if getattr(s.backend, "streams_thoughts", False):
                extra["on_thought"] = lambda text: s.emit(ThoughtDelta(text=text))
            reply = s.backend.complete(redacted(prompt), tools, on_delta, **extra)
            s.tool_choice = "auto"
            break
        except ModelError as exc:
            if exc.kind == "context_window" and not overflowed:
                overflowed = True
                s.make_room("overflow")
                continue
            delay = policy.delay(attempt)
            if exc.kind == "rate_limit":
                gate.hold(s.backend.name, delay)  # every worker of the batch waits it out, not this one alone
            if not exc.retryable or attempt >= policy.attempts - 1:
                raise
            attempt += 1
            s.warn(f"{exc.message}; retrying in {delay:.2f}s (attempt {attempt + 1} of {policy.attempts})")
            # Woken by an interrupt: Ctrl+C and SIGTERM waited out every retry and its backoff, then exited 3.
            s.interrupt.wait(delay)
            s.check_stop()  # StreamStopped: interrupted, or the time limit passed while waiting
    s.usage = s.usage + reply.usage
    s.roles.add(s.role, reply.usage)
    s.limits.cost_usd = s.usage.cost_usd
    s.emit(UsageEvent(step=reply.usage, total=s.usage, window=s.context.budget.window if s.context.budget else None))
    return reply
