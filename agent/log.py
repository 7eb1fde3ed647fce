"""The session log: one JSON event per line under .wren/sessions/, appended and flushed as it happens.

The log is the truth: --resume rebuilds the conversation from it.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path

from pydantic import ValidationError

from wren.agent.errors import ConfigError
from wren.agent.events import EVENT_ADAPTER, AssistantMessage, Event, ToolResultEvent, UserMessage
from wren.agent.messages import Message


def sessions_dir(root: Path) -> Path:
    return root / ".wren" / "sessions"


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class SessionLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def append(self, event: Event) -> None:
        self._fh.write(event.model_dump_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def find_session(root: Path, session_id: str | None) -> Path:
    """The log of `session_id`, or of the most recent session when it is None (--continue)."""
    folder = sessions_dir(root)
    if session_id is None:
        logs = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        if not logs:
            raise ConfigError(f"no previous session in {folder}; start one without --continue")
        return logs[-1]
    path = folder / f"{session_id}.jsonl"
    if not path.is_file():
        raise ConfigError(f"no session {session_id!r} in {folder}; see the session ids there")
    return path


def read_events(path: Path) -> list[Event]:
    events = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(EVENT_ADAPTER.validate_json(line))
        except ValidationError:
            # A last line cut short by a crash is the only expected damage; the rest is intact.
            if n != len(lines):
                raise ConfigError(f"session log {path} is damaged at line {n}") from None
    return events


def rebuild_messages(events: list[Event]) -> list[Message]:
    """The conversation as the model saw it, from the logged events."""
    messages: list[Message] = []
    for ev in events:
        if isinstance(ev, UserMessage):
            messages.append(Message(role="user", content=ev.text))
        elif isinstance(ev, AssistantMessage):
            messages.append(Message(role="assistant", content=ev.content, tool_calls=ev.tool_calls))
        elif isinstance(ev, ToolResultEvent):
            messages.append(Message(role="tool", content=ev.output, tool_call_id=ev.call_id, name=ev.name))
    return _close_dangling_calls(messages)


def _close_dangling_calls(messages: list[Message]) -> list[Message]:
    """A crash between a tool call and its result leaves a call without an answer; say so."""
    out: list[Message] = []
    for i, msg in enumerate(messages):
        out.append(msg)
        if msg.role != "assistant" or not msg.tool_calls:
            continue
        answered = {m.tool_call_id for m in messages[i + 1:] if m.role == "tool"}
        for call in msg.tool_calls:
            if call.id not in answered:
                out.append(Message(role="tool", tool_call_id=call.id, name=call.name,
                                   content="Error: the session stopped before this call finished; "
                                           "check the workspace before repeating it."))
    return out
