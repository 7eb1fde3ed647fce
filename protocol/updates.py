"""Wren's events as ACP session updates. Pure functions: live turns and session/load replay share them."""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from acp.helpers import (ToolCallContentVariant, start_tool_call, text_block, tool_content, tool_diff_content,
                         update_agent_message_text, update_agent_thought_text, update_plan, update_tool_call,
                         update_user_message_text)
from acp.schema import (AgentPlanUpdate, Cost, PlanEntry, ToolCallLocation, ToolCallProgress, ToolCallStart,
                        ToolCallUpdate, ToolKind, UsageUpdate)

from wren.core.events import (ApprovalRequested, AssistantMessage, CommandPreview, CompactionUndone, ContextForgotten,
                               ContextPinned, Event, FileChange, PlanUpdated, ToolCallEvent, ToolResultEvent,
                               UsageEvent, UserMessage)
from wren.core.errors import ToolError
from wren.tools.workspace import Workspace


def _absolute(root: Path, path: Any) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    try:
        return str(Workspace(root).resolve(path))
    except ToolError:
        return None  # a path the tool will refuse has no place to point the editor at


def locations(root: Path, args: dict[str, Any]) -> list[ToolCallLocation]:
    where = _absolute(root, args.get("path"))
    if where is None:
        return []
    line = args.get("start_line")
    return [ToolCallLocation(path=where, line=line if isinstance(line, int) and line > 0 else None)]


def planned_diff(root: Path, preview: FileChange | CommandPreview | None) -> list[ToolCallContentVariant]:
    """What an edit intends (the tool's preview): shown while the editor asks for permission."""
    if not isinstance(preview, FileChange) or (where := _absolute(root, preview.path)) is None:
        return []
    return [tool_diff_content(where, preview.new_text, preview.old_text)]


def diff_texts(unified: str) -> tuple[str, str]:
    """The old and new sides of a unified diff's hunks (context lines belong to both)."""
    old: list[str] = []
    new: list[str] = []
    for line in unified.splitlines(keepends=True):
        if line.startswith(("---", "+++", "\\")):
            continue
        if line.startswith("@@"):
            if old or new:
                old.append("...\n")
                new.append("...\n")
            continue
        mark, body = line[:1], line[1:]
        if mark in (" ", "-"):
            old.append(body)
        if mark in (" ", "+"):
            new.append(body)
    return "".join(old), "".join(new)


def start(root: Path, event: ToolCallEvent) -> ToolCallStart:
    # The session sends a Tool's kind (tools/base.py ToolKind, named after ACP's), as text.
    return start_tool_call(event.call_id, event.title or event.name, kind=cast(ToolKind, event.kind), status="pending",
                           content=planned_diff(root, event.preview) or None,
                           locations=locations(root, event.args) or None, raw_input=event.args)


def permission_subject(root: Path, event: ApprovalRequested, kind: ToolKind) -> ToolCallUpdate:
    return ToolCallUpdate(tool_call_id=event.call_id, title=event.summary or event.title or event.name, kind=kind,
                          status="pending",
                          content=planned_diff(root, event.preview) or None,
                          locations=locations(root, event.args) or None, raw_input=event.args)


def finish(root: Path, event: ToolResultEvent, call: ToolCallEvent | None,
           shown: list[ToolCallContentVariant]) -> ToolCallProgress:
    """The call's final state; `call` is its ToolCallEvent, `shown` content already attached while it ran
    (a terminal)."""
    content = list(shown)
    output = event.output
    where = _absolute(root, call.args.get("path")) if call is not None else None
    if event.diff and where:
        old, new = diff_texts(event.diff)
        created = event.ok and output.startswith("Created")
        content.append(tool_diff_content(where, new, None if created else old))
        output = output.splitlines()[0] if output else ""
    if output:
        content.append(tool_content(text_block(output)))
    return update_tool_call(event.call_id, status="completed" if event.ok else "failed", content=content,
                            raw_output={"ok": event.ok, "exit_code": event.exit_code,
                                        "files_changed": event.files_changed})


def plan(event: PlanUpdated) -> AgentPlanUpdate:
    return update_plan(PlanEntry(content=s.content, status=s.status, priority="medium") for s in event.steps)


def usage(event: UsageEvent) -> UsageUpdate:
    # `used` is what the last model call read and wrote: the context the conversation fills now.
    used = event.step.prompt_tokens + event.step.completion_tokens
    return UsageUpdate(session_update="usage_update", used=used, size=event.window or 0,
                       cost=Cost(amount=event.total.cost_usd, currency="USD"))


def context_change(event: ContextForgotten | ContextPinned | CompactionUndone) -> str:
    """A pin, a forget or an undo as the one line an editor shows (an agent thought)."""
    if isinstance(event, ContextPinned):
        return f"pinned: {event.text}"
    if isinstance(event, ContextForgotten):
        return f"forgot the results of {', '.join(event.call_ids)} (recall by id brings one back)"
    return f"undid the last {event.what}"


def replay(root: Path, events: list[Event]) -> list[Any]:
    """A logged session as the updates that show it again: messages, tool calls with results, plans."""
    out: list[Any] = []
    calls: dict[str, ToolCallEvent] = {}
    for ev in events:
        if isinstance(ev, UserMessage):
            out.append(update_user_message_text(ev.text))
        elif isinstance(ev, AssistantMessage) and ev.content:
            out.append(update_agent_message_text(ev.content))
        elif isinstance(ev, ToolCallEvent):
            calls[ev.call_id] = ev
            out.append(start(root, ev))
        elif isinstance(ev, ToolResultEvent):
            out.append(finish(root, ev, calls.get(ev.call_id), []))
        elif isinstance(ev, PlanUpdated):
            out.append(plan(ev))
        elif isinstance(ev, (ContextForgotten, ContextPinned, CompactionUndone)):
            out.append(update_agent_thought_text(context_change(ev)))
    return out
