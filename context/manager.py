"""The working context the prompt is built from: live messages, compaction summaries and pinned state.

The session log stays the truth; this is the working copy. Pinned state (the
user's directives verbatim, the plan) is re-injected with every compaction summary
and never summarised away.
"""
from __future__ import annotations

import copy
import json
from typing import Literal

from wren.core.events import (AssistantMessage, AttemptRestarted, CompactionUndone, ContextCompacted, ContextForgotten,
                               ContextPinned, Event, PlanStep, PlanUpdated, ToolResultEvent, UserMessage)
from wren.core.messages import Image, Message

DIRECTIVE_CHARS = 2000
KEEP_SUMMARIES = 3  # older summaries move to session memory so the summary block stays bounded
EDIT_TOOLS = ("edit_file", "write_file")
PIN_CHARS = 300  # one pin: a fact or a directive, not a document
PINS_CHARS = 1200  # all pins together: they are in every prompt

ContextChange = Literal["compaction", "forget", "pin"]  # what undo_change can undo


class ContextManager:
    def __init__(self, system: str) -> None:
        self.system = system
        self.messages: list[Message] = []
        self.summaries: list[str] = []
        self.summary_offset = 0  # number of the oldest summary still shown, minus one
        self._evicted: list[list[Message]] = []  # per compaction, for undo
        self.directives: list[str] = []
        self.plan: list[PlanStep] = []
        self.files_touched: list[str] = []
        self.failures: list[str] = []
        self.pins: list[str] = []
        # Undo puts back the newest change first: "compaction", "forget" or "pin".
        self._changes: list[ContextChange] = []
        self._forgets: list[list[Message]] = []  # per forget, the results as they were, for undo
        self.forgotten: dict[str, str] = {}  # call id -> the result it had, for recall by id

    # ---- growing ------------------------------------------------------------------------
    def add(self, message: Message) -> None:
        self.messages.append(message)

    def add_directive(self, text: str) -> None:
        if len(text) > DIRECTIVE_CHARS:
            text = text[:DIRECTIVE_CHARS] + " [... cut here; the full text is in session memory: use recall]"
        self.directives.append(text)

    def prompt(self) -> list[Message]:
        # System first and unchanged between steps, so providers and llama.cpp reuse the prefix.
        head = [Message(role="system", content=self.system)]
        if self.summaries or self.pins:
            head.append(Message(role="user", content=self.summary_block()))
        return head + self.messages

    # ---- the model's own steering: pin and forget -----------------------------------------
    def pin_problem(self, text: str) -> str:
        """Why `text` cannot be pinned ("" when it can): empty, too long, or no room left."""
        if not text.strip():
            return "nothing to pin: give the fact or directive as text"
        if len(text) > PIN_CHARS:
            return f"a pin holds at most {PIN_CHARS} characters ({len(text)} given); pin the gist"
        if sum(map(len, self.pins)) + len(text) > PINS_CHARS:
            return f"the pins are full ({PINS_CHARS} characters in all); keep the facts that matter in your answer"
        return ""

    def pin(self, text: str) -> None:
        self.pins.append(text.strip())
        self._changes.append("pin")

    def forget(self, call_ids: list[str]) -> list[Message]:
        """Replace the results of `call_ids` (those still in the prompt, not yet forgotten) by one-line
        stubs; returns the results as they were."""
        originals = []
        for i, m in enumerate(self.messages):
            if m.role == "tool" and m.tool_call_id in call_ids and m.tool_call_id not in self.forgotten:
                originals.append(m)
                self.forgotten[m.tool_call_id] = m.content
                self.messages[i] = m.model_copy(update={"content": forget_stub(m), "images": []})
        if originals:
            self._forgets.append(originals)
            self._changes.append("forget")
        return originals

    def undo_change(self) -> tuple[ContextChange, int] | None:
        """Undo the newest compaction, forget or pin: (which, messages put back), or None when there is none."""
        if not self._changes:
            return None
        what = self._changes.pop()
        if what == "pin":
            self.pins.pop()
            return what, 0
        if what == "forget":
            originals = {m.tool_call_id: m for m in self._forgets.pop() if m.tool_call_id}
            for i, m in enumerate(self.messages):
                if m.role == "tool" and m.tool_call_id in originals:
                    self.messages[i] = originals[m.tool_call_id]
                    self.forgotten.pop(m.tool_call_id, None)
            return what, len(originals)
        restored = self._evicted.pop()
        self.messages = restored + self.messages
        if self.summaries:
            self.summaries.pop()
        return what, len(restored)

    # ---- compaction ---------------------------------------------------------------------
    def eviction_units(self) -> list[int]:
        """Indices where a unit starts: a user message, or an assistant message with its tool results.

        Evicting whole units never splits a tool call from its result.
        """
        return [i for i, m in enumerate(self.messages) if m.role in ("user", "assistant")]

    def evict(self, count: int, summary: str) -> list[str]:
        """Drop `count` leading messages for `summary`; returns the summaries that no longer fit."""
        evicted, self.messages = self.messages[:count], self.messages[count:]
        self._evicted.append(evicted)
        self._changes.append("compaction")
        self._note(evicted)
        self.summaries.append(summary)
        self.summary_offset += max(0, len(self.summaries) - KEEP_SUMMARIES)
        dropped, self.summaries = self.summaries[:-KEEP_SUMMARIES], self.summaries[-KEEP_SUMMARIES:]
        return dropped

    def evicted_copy(self, count: int, summary: str) -> "ContextManager":
        """A copy of this context as evict(count, summary) would leave it; this one is unchanged."""
        probe = copy.copy(self)
        # evict() and _note() change these lists in place; the messages themselves are never changed.
        for name in ("summaries", "_evicted", "_changes", "files_touched", "failures"):
            setattr(probe, name, list(getattr(self, name)))
        probe.evict(count, summary)
        return probe

    def files_in_play(self) -> list[str]:
        """Files the session has worked with: named by tool calls now in context or evicted before."""
        paths = list(self.files_touched)
        for m in self.messages:
            for c in m.tool_calls:
                if (path := _arg(c.arguments, "path")) and path not in paths:
                    paths.append(path)
        return paths

    def _note(self, evicted: list[Message]) -> None:
        """Facts the summary must keep exactly: files edited and tool calls that failed."""
        calls = {c.id: c for m in evicted for c in m.tool_calls}
        for m in evicted:
            for c in m.tool_calls:
                if c.name in EDIT_TOOLS:
                    path = _arg(c.arguments, "path")
                    if path and path not in self.files_touched:
                        self.files_touched.append(path)
            if m.role == "tool" and m.content.startswith(("Error:", "Denied:")):
                call = calls.get(m.tool_call_id or "")
                what = f"{call.name}({call.arguments[:160]})" if call else m.name or "tool"
                self.failures.append(f"{what}: {m.content.splitlines()[0][:240]}")

    def summary_block(self) -> str:
        pinned = "## Pinned (verbatim)\n" + "\n".join(f"- {p}" for p in self.pins)
        if not self.summaries:
            return "[Notes you pinned; they stay in every prompt.]\n\n" + pinned
        parts = ["[Earlier parts of this session were compacted. The user's directives and the plan below "
                 "are exact; details of everything else can be fetched with the recall tool.]"]
        if self.pins:
            parts.append(pinned)
        if len(self.directives) == 1:
            parts.append("## Task\n" + self.directives[0])
            parts.append("## User directives (verbatim)\n" + "\n".join(f"- {d}" for d in self.directives))
        elif self.directives:
            # Not the first as "the task": a session that went on to a second task (bench/chained.py) showed
            # Qwen2.5-Coder-1.5B the finished one under "## Task". Nor the newest: it may be "continue".
            parts.append("## The user's requests and directives (verbatim, oldest first; the last is the newest)\n"
                         + "\n".join(f"- {d}" for d in self.directives))
        if self.files_touched:
            parts.append("## Files touched\n" + "\n".join(f"- {p}" for p in self.files_touched))
        if self.failures:
            parts.append("## Approaches that failed\n" + "\n".join(f"- {f}" for f in self.failures[-12:]))
        open_items = [s for s in self.plan if s.status != "completed"]
        if self.plan:
            marks = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}
            parts.append("## Plan (open items: %d)\n" % len(open_items)
                         + "\n".join(f"- {marks[s.status]} {s.content}" for s in self.plan))
        for n, summary in enumerate(self.summaries, self.summary_offset + 1):
            parts.append(f"## Summary of compaction {n}\n{summary}")
        return "\n\n".join(parts)


def tool_message(call_id: str, name: str, output: str, images: list[Image]) -> Message:
    """A tool result as the prompt holds it: its call id after it, for `forget` and `recall` to name."""
    return Message(role="tool", content=f"{output}\n[id {call_id}]", tool_call_id=call_id, name=name, images=images)


def forget_stub(message: Message) -> str:
    """The one line a forgotten result leaves in the prompt: what it was and how to get it back."""
    return (f"[forgotten: the {message.name or 'tool'} result ({len(message.content)} chars) is in memory; "
            f'recall with query "{message.tool_call_id}" brings it back]')


def _arg(arguments: str, key: str) -> str | None:
    try:
        value = json.loads(arguments).get(key)
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def user_content(text: str, recalled: str, repo_map: str = "") -> str:
    # Sent with the user's message, not in the system prompt: the prefix stays byte-stable for caches.
    if recalled:
        text += (f"\n\n[Recalled from earlier in this session (compacted out of the prompt); "
                 f"use the recall tool for more]\n{recalled}")
    if repo_map:
        text += ("\n\n[Repository map: the definitions most relevant to this message, by file "
                 f"(line│text); read_file or search_code for more]\n{repo_map}")
    return text


def replay(ctx: ContextManager, events: list[Event]) -> None:
    """Rebuild the working context from a session log, compactions included."""
    for ev in events:
        if isinstance(ev, UserMessage):
            ctx.add(Message(role="user", content=user_content(ev.text, ev.recalled, ev.repo_map)))
            if ev.by == "user":  # Wren's own notes are not the user's directives
                ctx.add_directive(ev.text)
        elif isinstance(ev, AssistantMessage):
            close_dangling_calls(ctx)
            ctx.add(Message(role="assistant", content=ev.content, tool_calls=ev.tool_calls))
        elif isinstance(ev, ToolResultEvent):
            ctx.add(tool_message(ev.call_id, ev.name, ev.output, ev.images))
        elif isinstance(ev, PlanUpdated):
            ctx.plan = ev.steps
        elif isinstance(ev, ContextCompacted):
            ctx.evict(ev.evicted, ev.summary)
        elif isinstance(ev, ContextForgotten):
            ctx.forget(ev.call_ids)
        elif isinstance(ev, ContextPinned):
            ctx.pin(ev.text)
        elif isinstance(ev, CompactionUndone):
            ctx.undo_change()
        elif isinstance(ev, AttemptRestarted):
            close_dangling_calls(ctx)
            del ctx.messages[len(ctx.messages) - ev.dropped:]
    close_dangling_calls(ctx)


def close_dangling_calls(ctx: ContextManager) -> None:
    """A crash between a tool call and its result leaves a call without an answer; say so (every
    provider refuses a prompt whose tool calls lack results)."""
    at = next((i for i in range(len(ctx.messages) - 1, -1, -1) if ctx.messages[i].role == "assistant"), None)
    if at is None or not ctx.messages[at].tool_calls:
        return
    last = ctx.messages[at]
    answered = {m.tool_call_id for m in ctx.messages[at + 1:] if m.role == "tool"}
    for call in last.tool_calls:
        if call.id not in answered:
            ctx.add(Message(role="tool", tool_call_id=call.id, name=call.name,
                            content="Error: the session stopped before this call finished; "
                                    "check the workspace before repeating it."))
