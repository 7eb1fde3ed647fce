"""What the screen shows at a glance, folded from the session's events (no agent logic here)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from wren.core.events import (AssistantMessage, AttemptRestarted, CompactionUndone, ContextCompacted, ContextForgotten,
                               ContextPinned, Event, ModelChanged, PlanResolved, PlanStep, PlanUpdated, Result,
                               SessionStarted, ToolResultEvent, UsageEvent, UserMessage)


@dataclass
class Item:
    """One message of the conversation as the model saw it, for the context view."""
    role: str
    text: str

    def matches(self, query: str) -> bool:
        return query.lower() in f"{self.role} {self.text}".lower()


@dataclass
class Compaction:
    event: ContextCompacted
    evicted: list[Item]


@dataclass
class ViewState:
    model: str = ""
    mode: str = "ask"
    cost_usd: float = 0.0
    tokens: int = 0  # the size of the last prompt plus its reply: what the context holds now
    window: int | None = None
    plan: list[PlanStep] = field(default_factory=list)
    compactions: list[Compaction] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)  # the model's pinned notes, in every prompt
    forgotten: list[ContextForgotten] = field(default_factory=list)  # results the model moved to memory
    items: list[Item] = field(default_factory=list)
    evicted_upto: int = 0  # items before this index were compacted away
    turns_pending: int = 0

    @property
    def busy(self) -> bool:
        return self.turns_pending > 0

    def apply(self, event: Event) -> None:
        if isinstance(event, SessionStarted):
            self.model, self.mode = event.model, event.approval
        elif isinstance(event, ModelChanged) and event.role == "main":
            self.model, self.window = event.model, event.window
        elif isinstance(event, PlanResolved) and event.decision == "approve" and event.approval:
            self.mode = event.approval
        elif isinstance(event, UsageEvent):
            self.cost_usd = event.total.cost_usd
            self.tokens = event.step.prompt_tokens + event.step.completion_tokens
            self.window = event.window or self.window
        elif isinstance(event, PlanUpdated):
            self.plan = list(event.steps)
        elif isinstance(event, ContextCompacted):
            self._compacted(event)
        elif isinstance(event, ContextPinned):
            self.pins.append(event.text)
        elif isinstance(event, ContextForgotten):
            self.forgotten.append(event)
        elif isinstance(event, CompactionUndone):
            self._undone(event)
        elif isinstance(event, AttemptRestarted):  # the failed attempt left the prompt
            del self.items[max(self.evicted_upto, len(self.items) - event.dropped):]
        elif isinstance(event, Result):
            self.turns_pending = max(0, self.turns_pending - 1)
        self._remember(event)

    def _remember(self, event: Event) -> None:
        if isinstance(event, UserMessage):
            self.items.append(Item("user", event.text))
        elif isinstance(event, AssistantMessage):
            calls = " ".join(f"{c.name}({c.arguments})" for c in event.tool_calls)
            self.items.append(Item("assistant", "\n".join(t for t in (event.content, calls) if t)))
        elif isinstance(event, ToolResultEvent):
            self.items.append(Item(f"tool {event.name}", event.output))

    def _undone(self, event: CompactionUndone) -> None:
        if event.what == "pin" and self.pins:
            self.pins.pop()
        elif event.what == "forget" and self.forgotten:
            self.forgotten.pop()
        elif event.what == "compaction" and self.compactions:
            self.evicted_upto -= len(self.compactions.pop().evicted)

    def _compacted(self, event: ContextCompacted) -> None:
        # The event counts what left the prompt; compaction replaces the oldest turns, so those are
        # the oldest messages not yet compacted away.
        end = min(len(self.items), self.evicted_upto + event.evicted)
        self.compactions.append(Compaction(event, self.items[self.evicted_upto:end]))
        self.evicted_upto = end
        self.tokens = event.tokens_after

    def evicted(self, query: str = "") -> list[tuple[int, Item]]:
        """(compaction number, item) for every evicted item that matches `query`."""
        return [(n, item) for n, c in enumerate(self.compactions, 1) for item in c.evicted
                if not query or item.matches(query)]


def tokens_text(n: int) -> str:
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}k".replace(".0k", "k")


def meter_text(state: ViewState) -> str:
    used = tokens_text(state.tokens)
    size = f"{used}/{tokens_text(state.window)}" if state.window else f"{used} tokens"
    n = len(state.compactions)
    return f"ctx {size} · {n} compaction{'s' if n != 1 else ''}"


M = TypeVar("M", bound=str)  # a mode: the caller's own Literal type


def mode_after(mode: str, modes: tuple[M, ...]) -> M:
    return modes[(modes.index(mode) + 1) % len(modes)] if mode in modes else modes[0]
