"""The working context the prompt is built from: live messages, compaction summaries and pinned state.

The session log stays the truth; this is the working copy. Pinned state (the
user's directives verbatim, the plan) is re-injected with every compaction summary
and never summarised away.
"""
from __future__ import annotations

import json

from wren.core.events import (AssistantMessage, AttemptRestarted, CompactionUndone, ContextCompacted, Event, PlanStep,
                               PlanUpdated, ToolResultEvent, UserMessage)
from wren.core.messages import Message

DIRECTIVE_CHARS = 2000
KEEP_SUMMARIES = 3  # older summaries move to session memory so the summary block stays bounded
EDIT_TOOLS = ("edit_file", "write_file")


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
        if self.summaries:
            head.append(Message(role="user", content=self.summary_block()))
        return head + self.messages

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
        self._note(evicted)
        self.summaries.append(summary)
        self.summary_offset += max(0, len(self.summaries) - KEEP_SUMMARIES)
        dropped, self.summaries = self.summaries[:-KEEP_SUMMARIES], self.summaries[-KEEP_SUMMARIES:]
        return dropped

    def undo_compaction(self) -> int:
        """Put the latest compaction's messages back; returns how many. The memory keeps its copy."""
        if not self._evicted:
            return 0
        restored = self._evicted.pop()
        self.messages = restored + self.messages
        if self.summaries:
            self.summaries.pop()
        return len(restored)

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
        parts = ["[Earlier parts of this session were compacted. The user's directives and the plan below "
                 "are exact; details of everything else can be fetched with the recall tool.]"]
        if self.directives:
            parts.append("## Task\n" + self.directives[0])
            parts.append("## User directives (verbatim)\n" + "\n".join(f"- {d}" for d in self.directives))
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
            ctx.add_directive(ev.text)
        elif isinstance(ev, AssistantMessage):
            close_dangling_calls(ctx)
            ctx.add(Message(role="assistant", content=ev.content, tool_calls=ev.tool_calls))
        elif isinstance(ev, ToolResultEvent):
            ctx.add(Message(role="tool", content=ev.output, tool_call_id=ev.call_id, name=ev.name,
                            images=ev.images))
        elif isinstance(ev, PlanUpdated):
            ctx.plan = ev.steps
        elif isinstance(ev, ContextCompacted):
            ctx.evict(ev.evicted, ev.summary)
        elif isinstance(ev, CompactionUndone):
            ctx.undo_compaction()
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
