"""Wren's events as ACP session updates. Pure functions: live turns and session/load replay share them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from acp.helpers import (start_tool_call, text_block, tool_content, tool_diff_content, update_agent_message_text,
                         update_agent_thought_text, update_plan, update_tool_call, update_user_message_text)
from acp.schema import (AgentPlanUpdate, Cost, FileEditToolCallContent, PlanEntry, ToolCallLocation, ToolCallProgress,
                        ToolCallStart, ToolCallUpdate, UsageUpdate)

from wren.core.events import (AssistantMessage, CompactionUndone, ContextForgotten, ContextPinned, Event, PlanUpdated,
                               ToolCallEvent, ToolResultEvent, UsageEvent, UserMessage)
from wren.core.errors import ToolError
from wren.tools.workspace import Workspace

EDIT_TOOLS = ("edit_file", "write_file")


def parse_arguments(raw: str) -> dict[str, Any]:
    """The call's arguments as an object; text that is not one is kept under "raw" for display."""
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"raw": raw}
    return data if isinstance(data, dict) else {"raw": raw}


def title(name: str, args: dict[str, Any]) -> str:
    path = args.get("path")
    if name == "read_file" and path:
        return f"Read {path}"
    if name in EDIT_TOOLS and path:
        return f"{'Edit' if name == 'edit_file' else 'Write'} {path}"
    if name == "shell" and args.get("command"):
        return f"Run `{args['command']}`"
    if name == "grep" and args.get("pattern"):
        return f"Search for `{args['pattern']}`"
    if name == "list_files":
        return f"List {path or '.'}"
    if name.startswith("mcp__"):
        _, server, tool = name.split("__", 2)
        return f"{server}: {tool}"
    return name.replace("_", " ").capitalize()


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


def planned_diff(root: Path, name: str, args: dict[str, Any]) -> list[FileEditToolCallContent]:
    """What an edit intends, from its arguments: shown while the editor asks for permission."""
    where = _absolute(root, args.get("path"))
    if where is None or name not in EDIT_TOOLS:
        return []
    if name == "edit_file" and isinstance(args.get("old"), str) and isinstance(args.get("new"), str):
        return [tool_diff_content(where, args["new"], args["old"])]
    if name == "write_file" and isinstance(args.get("content"), str):
        existing = Path(where).read_text(encoding="utf-8", errors="replace") if Path(where).is_file() else None
        return [tool_diff_content(where, args["content"], existing)]
    return []


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
    args = parse_arguments(event.arguments)
    return start_tool_call(event.call_id, title(event.name, args), kind=event.kind, status="pending",
                           content=planned_diff(root, event.name, args) or None,
                           locations=locations(root, args) or None, raw_input=args)


def permission_subject(root: Path, call_id: str, name: str, arguments: str, kind: str) -> ToolCallUpdate:
    args = parse_arguments(arguments)
    return ToolCallUpdate(tool_call_id=call_id, title=title(name, args), kind=kind, status="pending",
                          content=planned_diff(root, name, args) or None, locations=locations(root, args) or None,
                          raw_input=args)


def finish(root: Path, event: ToolResultEvent, args: dict[str, Any], shown: list) -> ToolCallProgress:
    """The call's final state; `shown` is content already attached while it ran (a terminal)."""
    content = list(shown)
    output = event.output
    where = _absolute(root, args.get("path"))
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


def replay(root: Path, events: list[Event]) -> list:
    """A logged session as the updates that show it again: messages, tool calls with results, plans."""
    out: list = []
    calls: dict[str, dict[str, Any]] = {}
    for ev in events:
        if isinstance(ev, UserMessage):
            out.append(update_user_message_text(ev.text))
        elif isinstance(ev, AssistantMessage) and ev.content:
            out.append(update_agent_message_text(ev.content))
        elif isinstance(ev, ToolCallEvent):
            calls[ev.call_id] = parse_arguments(ev.arguments)
            out.append(start(root, ev))
        elif isinstance(ev, ToolResultEvent):
            out.append(finish(root, ev, calls.get(ev.call_id, {}), []))
        elif isinstance(ev, PlanUpdated):
            out.append(plan(ev))
        elif isinstance(ev, (ContextForgotten, ContextPinned, CompactionUndone)):
            out.append(update_agent_thought_text(context_change(ev)))
    return out
