"""The context view: what the prompt holds now, each compaction's summary, and the evicted items (searchable)."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from wren.tui.cards import short
from wren.tui.glance import plan_text
from wren.tui.state import Compaction, ViewState, meter_text, tokens_text


def compaction_text(n: int, c: Compaction) -> Text:
    ev = c.event
    text = Text.assemble((f"#{n} ", "bold"), f"{tokens_text(ev.tokens_before)} → {tokens_text(ev.tokens_after)} "
                         f"tokens · {ev.evicted} messages moved to memory\n")
    text.append(ev.summary)
    return text


def pinned_text(state: ViewState) -> Text:
    """The model's pins, verbatim, then the plan."""
    text = Text()
    for pin in state.pins:
        text.append("📌 ", style="bold")
        text.append(pin + "\n")
    text.append_text(plan_text(state.plan) if state.plan else Text("No plan yet."))
    return text


def forgotten_text(state: ViewState) -> Text:
    """Each result the model forgot: its call id (what recall takes), its tool and its start."""
    if not state.forgotten:
        return Text("Nothing forgotten: the model's forget moves tool results here.")
    text = Text()
    for event in state.forgotten:
        for call_id, item in zip(event.call_ids, event.items):
            text.append(("\n" if text.plain else "") + f"{call_id} {item.name or item.role}: ", style="bold")
            text.append(short(item.preview, 160))
    return text


def evicted_text(state: ViewState, query: str) -> Text:
    found = state.evicted(query)
    if not state.compactions:
        return Text("Nothing has been evicted yet.")
    if not found:
        return Text(f"No evicted item matches {query!r}.")
    text = Text()
    for i, (n, item) in enumerate(found):
        text.append(("\n" if i else "") + f"#{n} {item.role}: ", style="bold")
        text.append(short(item.text, 160))
    return text


class ContextScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "close")]

    def __init__(self, state: ViewState) -> None:
        super().__init__(classes="context-screen")
        self.state = state

    def compose(self) -> ComposeResult:
        state = self.state
        with Vertical(id="context"):
            yield Static(Text.assemble(("Context", "bold"), "  ", meter_text(state), "  · esc closes"),
                         id="context-title")
            with VerticalScroll(id="context-body"):
                yield Static(Text("Pinned", style="bold underline"), classes="section")
                yield Static(pinned_text(state), id="pinned")
                yield Static(Text("Compactions", style="bold underline"), classes="section")
                yield Static(self._compactions(), id="compactions")
                yield Static(Text("Forgotten results", style="bold underline"), classes="section")
                yield Static(forgotten_text(state), id="forgotten")
                yield Static(Text("Evicted items", style="bold underline"), classes="section")
                yield Input(placeholder="Search the evicted items", id="evicted-search")
                yield Static(evicted_text(state, ""), id="evicted")

    def _compactions(self) -> Text:
        if not self.state.compactions:
            return Text("No compaction yet: /compact compacts now, and Wren compacts by itself near the budget.")
        return Text("\n\n").join(compaction_text(n, c) for n, c in enumerate(self.state.compactions, 1))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#evicted", Static).update(evicted_text(self.state, event.value.strip()))
