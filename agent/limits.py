"""Run limits: steps, cost, wall time and consecutive model-fixable errors."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class Limits:
    max_steps: int | None = 100
    max_cost_usd: float | None = None
    timeout_s: float | None = None
    max_consecutive_errors: int = 5
    # The same call with the same result this many times in a row ends the turn: a model that
    # repeats itself after being told so would burn the whole step budget the same way.
    max_repeats: int = 3


@dataclass
class LimitState:
    limits: Limits
    started: float = field(default_factory=time.monotonic)
    steps: int = 0
    cost_usd: float = 0.0
    consecutive_errors: int = 0
    repeats: int = 0  # how many times in a row the last call was made with the same result
    last_call: tuple[str, str, str] | None = None  # (tool, canonical arguments, output)

    def note_call(self, name: str, arguments: str, output: str) -> int:
        """Record a finished call; returns how many times in a row it has been made with this result."""
        try:
            canonical = json.dumps(json.loads(arguments), sort_keys=True)
        except json.JSONDecodeError:
            canonical = arguments
        key = (name, canonical, output)
        self.repeats = self.repeats + 1 if key == self.last_call else 1
        self.last_call = key
        return self.repeats

    def steps_left(self) -> int | None:
        return None if self.limits.max_steps is None else self.limits.max_steps - self.steps

    def stuck(self) -> bool:
        """Whether the model is stuck (failing step after step, or repeating itself) rather than out of budget."""
        return (self.consecutive_errors >= self.limits.max_consecutive_errors
                or (self.repeats >= self.limits.max_repeats and self.last_call is not None))

    def unstick(self) -> None:
        """A fresh start: past errors and repeats no longer count."""
        self.consecutive_errors, self.repeats, self.last_call = 0, 0, None

    @property
    def deadline(self) -> float | None:
        return None if self.limits.timeout_s is None else self.started + self.limits.timeout_s

    def exceeded(self) -> str | None:
        """Why the run must stop before the next model call, or None."""
        lim = self.limits
        if lim.max_steps is not None and self.steps >= lim.max_steps:
            return f"step limit reached ({lim.max_steps} model calls)"
        if lim.max_cost_usd is not None and self.cost_usd >= lim.max_cost_usd:
            return f"cost limit reached (${self.cost_usd:.4f} of ${lim.max_cost_usd:.4f})"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return f"time limit reached ({lim.timeout_s:g}s)"
        if self.consecutive_errors >= lim.max_consecutive_errors:
            return f"{self.consecutive_errors} consecutive failed tool steps; stopping instead of looping"
        if self.repeats >= lim.max_repeats and self.last_call:
            return (f"repeating: the same {self.last_call[0]} call with the same result {self.repeats} times in a "
                    "row; stopping instead of looping")
        return None
