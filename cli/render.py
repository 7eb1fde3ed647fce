"""One-line progress for humans watching a headless run (stderr)."""
from __future__ import annotations

from wren.core.events import (ApprovalResolved, EffortChanged, ErrorEvent, Event, Result, SessionStarted,
                               ToolCallEvent, ToolResultEvent)


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def progress_line(event: Event) -> str | None:
    if isinstance(event, SessionStarted):
        verb = "resumed" if event.resumed else "session"
        return f"wren: {verb} {event.session_id} · {event.model} · approval {event.approval}"
    if isinstance(event, ToolCallEvent):
        return f"→ {event.name} {_short(event.arguments, 80)}"
    if isinstance(event, ToolResultEvent):
        mark = "✓" if event.ok else "✗"
        return f"  {mark} {_short(event.output.splitlines()[0] if event.output else '', 90)}"
    if isinstance(event, ApprovalResolved) and event.decision == "deny":
        return f"  ⊘ denied: {_short(event.message)}"
    if isinstance(event, EffortChanged):
        return f"wren: effort {event.effort}" + (f" · {event.applied}" if event.supported
                                                  else f" is not supported: {event.applied}")
    if isinstance(event, ErrorEvent):
        return f"wren: {'warning' if not event.fatal else 'error'}: {event.message}"
    if isinstance(event, Result):
        u = event.usage
        return (f"wren: {event.status} (exit {event.exit_code}) · {event.steps} step{'s' * (event.steps != 1)} · "
                f"{u.prompt_tokens}+{u.completion_tokens} tokens · ${u.cost_usd:.4f} · {event.duration_s:.1f}s"
                + (f"\nwren: note: test files changed: {', '.join(event.tests_changed)}" if event.tests_changed else ""))
    return None
