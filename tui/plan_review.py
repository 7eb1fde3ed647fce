"""The plan review modal: the proposed plan as editable text; approve it (choosing how its changes
are approved then) or reject it. Only what this screen returns is ever carried out."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from wren.agent.plan import parse_plan, render_plan
from wren.core.events import ProposedPlan
from wren.core.ops import PlanDecision


class PlanScreen(ModalScreen[PlanDecision]):
    # Priority: the text area takes every other key for editing.
    BINDINGS = [
        Binding("ctrl+y", "approve('auto-edit')", "approve: edits run", priority=True),
        Binding("ctrl+k", "approve('ask')", "approve: ask before each change", priority=True),
        Binding("escape", "reject", "reject", priority=True),
    ]

    def __init__(self, plan: ProposedPlan) -> None:
        super().__init__(classes="approval-screen")
        self.plan, self.shown = plan, render_plan(plan)

    def compose(self) -> ComposeResult:
        with Vertical(id="approval"):
            yield Static(Text("Plan: nothing has changed yet. Edit it here, then approve or reject it.",
                              style="bold"), id="approval-title")
            yield TextArea(self.shown, id="plan-text")
            yield Static(Text.assemble(("ctrl+y", "bold"), " approve, edits run   ", ("ctrl+k", "bold"),
                                       " approve, ask before each change   ", ("esc", "bold"), " reject"),
                         id="approval-keys")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def edited(self) -> ProposedPlan | None:
        """The plan as edited here; None when the text is as proposed (the session's plan runs)."""
        text = self.query_one(TextArea).text
        return None if text.strip() == self.shown.strip() else parse_plan(text, [])

    def action_approve(self, approval: str) -> None:
        self.dismiss(PlanDecision(decision="approve", plan=self.edited(), approval=approval))  # type: ignore[arg-type]

    def action_reject(self) -> None:
        self.dismiss(PlanDecision(decision="reject"))
