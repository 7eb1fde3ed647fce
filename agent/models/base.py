"""The model seam: one small protocol every backend implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from wren.agent.events import Usage
from wren.agent.messages import Message, ToolCall


@dataclass
class ModelReply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * (2 ** attempt))


OnDelta = Callable[[str], None]


class ModelBackend(Protocol):
    """Stream a completion for (messages, tool schemas) and report usage.

    Raise ModelError (agent/errors.py) for provider failures; `retryable` says
    whether backing off and trying again can help.
    """

    name: str
    retry: RetryPolicy
    window: int | None

    def complete(self, messages: list[Message], tools: list[dict], on_delta: OnDelta) -> ModelReply:
        ...
