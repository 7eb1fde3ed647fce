"""Tool-call cards: one line (tool, key argument, status, duration) that expands to the full output."""
from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from wren.core.events import CommandPreview, ToolCallEvent, ToolResultEvent
from wren.tui.preview import diff_view

def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def duration_text(seconds: float) -> str:
    # Sub-second times are noise to a reader (and would make every screen differ).
    return "<1s" if seconds < 1 else f"{seconds:.1f}s"


def diff_stats(diff: str) -> str:
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"+{added} -{removed}"


def result_status(ev: ToolResultEvent, command: bool = False) -> str:
    """✓ or ✗, the diff's size, a command's exit code (`command`: the call ran one), the duration."""
    failed = not ev.ok or ev.exit_code not in (None, 0)
    parts = ["✗" if failed else "✓"]
    if ev.diff:
        parts.append(diff_stats(ev.diff))
    if command:
        parts.append("killed" if ev.exit_code is None else f"exit {ev.exit_code}")
    parts.append(duration_text(ev.duration_s))
    return " ".join(parts)


def result_body(ev: ToolResultEvent) -> RenderableType:
    # A shell's output already starts with its command and ends with its exit code.
    return diff_view(ev.diff) if ev.diff else Text(ev.output or "(no output)")


class ToolCard(Collapsible):
    """Collapsed by default so a long run stays scannable; Enter or a click expands it."""

    def __init__(self, event: ToolCallEvent) -> None:
        self.tool = event.name
        self.title_text = short(event.title or event.name, 70)
        self.command = isinstance(event.preview, CommandPreview)
        self.status = "running"
        self.body = Static(Text(f"{event.name} {event.arguments}"), classes="card-body")
        super().__init__(self.body, title=Content(self._headline()), classes="tool-card")  # type: ignore[arg-type]

    def _headline(self) -> str:
        # Shown as a Content, as it is: tool arguments may hold markup-like brackets.
        return f"{self.title_text} · {self.status}"

    def set_status(self, status: str) -> None:
        self.status = status
        self.title = Content(self._headline())  # type: ignore[assignment]

    def finish(self, ev: ToolResultEvent) -> None:
        if not self.status.startswith("denied"):  # the denial says more than "✗"
            self.set_status(result_status(ev, self.command))
        self.set_class(self.status.startswith("✗"), "failed")
        self.body.update(result_body(ev))
