"""The approval modal: exactly what will happen, then y allow once, a allow always, n deny with a message, Esc deny.

It is a screen with a callback, so the app keeps drawing and reading events while it waits.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from wren.core.events import ApprovalRequested
from wren.core.ops import ApprovalDecision
from wren.tui.cards import short
from wren.tui.preview import preview


class ApprovalScreen(ModalScreen[ApprovalDecision]):
    BINDINGS = [
        Binding("y", "decide('allow_once')", "allow once"),
        Binding("a", "decide('allow_always')", "allow always"),
        Binding("n", "ask_why", "deny with a message"),
        Binding("escape", "decide('deny')", "deny"),
    ]

    def __init__(self, event: ApprovalRequested) -> None:
        super().__init__(classes="approval-screen")
        self.event = event

    def compose(self) -> ComposeResult:
        ev = self.event
        with Vertical(id="approval"):
            yield Static(Text.assemble(("Approve: ", "bold"), short(ev.title or ev.name, 70)), id="approval-title")
            if ev.summary:
                yield Static(Text(ev.summary), id="approval-summary")
            yield Static(Text(ev.reason), id="approval-reason")
            with VerticalScroll(id="approval-preview"):
                yield Static(preview(ev.preview, ev.args, ev.arguments))
            yield Input(placeholder="Tell the model why (Enter denies; Esc denies without a message)",
                        id="deny-message")
            yield Static(Text.assemble(("y", "bold"), " allow once   ", ("a", "bold"),
                                       _always_label(ev), ("n", "bold"),
                                       " deny with a message   ", ("esc", "bold"), " deny"), id="approval-keys")

    def on_mount(self) -> None:
        self.query_one("#deny-message", Input).display = False

    def action_decide(self, decision: str) -> None:
        self.dismiss(ApprovalDecision(call_id=self.event.call_id, decision=decision))  # type: ignore[arg-type]

    def action_ask_why(self) -> None:
        box = self.query_one("#deny-message", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(ApprovalDecision(call_id=self.event.call_id, decision="deny", message=event.value.strip()))


def _always_label(ev: ApprovalRequested) -> str:
    """What "allow always" remembers: a shell command's first words (agent/rules.py), else the tool."""
    heads = ev.always
    if heads == [ev.name]:
        return f" allow {ev.name} for this session   "
    if not heads:
        return " allow once (a command that cannot be split is not remembered)   "
    return f" allow {', '.join(heads)} commands for this session   "
