"""Run limits: steps, cost, wall time and consecutive model-fixable errors."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Limits:
    max_steps: int | None = 100
    max_cost_usd: float | None = None
    timeout_s: float | None = None
    max_consecutive_errors: int = 5


@dataclass
class LimitState:
    limits: Limits
    started: float = field(default_factory=time.monotonic)
    steps: int = 0
    cost_usd: float = 0.0
    consecutive_errors: int = 0

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
        return None
