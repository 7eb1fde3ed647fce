"""At a glance: the plan panel and the status line (mode, model, cost, context meter, activity)."""
from __future__ import annotations

from pathlib import PurePath

from rich.text import Text
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from wren.core.events import PlanStep
from wren.tui.state import ViewState, meter_text

PLAN_MARKS = {"pending": "○", "in_progress": "◐", "completed": "●"}


def plan_text(steps: list[PlanStep]) -> Text:
    text = Text()
    for i, step in enumerate(steps):
        style = {"completed": "dim", "in_progress": "bold"}.get(step.status, "")
        text.append(("\n" if i else "") + f"{PLAN_MARKS[step.status]} {step.content}", style=style)
    return text


def model_label(model: str) -> str:
    """A model name short enough for the status line: file-backed models show the file's name."""
    kind, sep, spec = model.partition(":")
    if sep and kind in ("scripted", "local") and ("/" in spec or "\\" in spec):
        return f"{kind}:{PurePath(spec).name}"
    return model


class PlanPanel(Static):
    def show(self, steps: list[PlanStep]) -> None:
        done = sum(1 for s in steps if s.status == "completed")
        self.border_title = f"Plan {done}/{len(steps)}"
        self.update(plan_text(steps))
        self.display = bool(steps)


class ContextMeter(Static):
    class Opened(Message):
        """The user clicked the meter: open the context view."""

    def on_click(self) -> None:
        self.post_message(self.Opened())


class StatusBar(Horizontal):
    def compose(self):
        yield Static(id="mode")
        yield Static(id="model")
        yield Static(id="cost")
        yield ContextMeter(id="meter")
        yield Static(id="activity")

    def show(self, state: ViewState) -> None:
        self.query_one("#mode", Static).update(Text(f" {state.mode} ", style="bold reverse"))
        self.query_one("#model", Static).update(Text(model_label(state.model)))
        self.query_one("#cost", Static).update(Text(f"${state.cost_usd:.4f}"))
        self.query_one("#meter", Static).update(Text(meter_text(state)))
        self.query_one("#activity", Static).update(Text("● working" if state.busy else "ready"))
        self.set_class(state.busy, "busy")
