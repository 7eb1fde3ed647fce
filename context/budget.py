"""The token budget: the model's real window minus a reserve for the reply."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    window: int
    reserve: int
    compact_at: float = 0.8  # share of the budget at which compaction starts
    target: float = 0.5      # what compaction aims to bring the prompt down to

    @property
    def limit(self) -> int:
        return max(1, self.window - self.reserve)

    def needs_compaction(self, tokens: int) -> bool:
        return tokens > self.compact_at * self.limit

    def fits(self, tokens: int) -> bool:
        return tokens <= self.limit
