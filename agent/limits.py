"""Run limits: steps, cost, wall time and consecutive model-fixable errors."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field


DURATION = re.compile(r"\b\d+(?:\.\d+)?s\b")
# Arguments that only say how much of the same answer to show (search_code's and recall's `k`, grep's
# `context`): a call that differs from an earlier one only in these asks the same question again.
# Qwen2.5-Coder-1.5B searched `kth` with k = 1, 2, ... 6, each call new to a guard that compared arguments.
AMOUNT_ARGS = {"search_code": "k", "recall": "k", "grep": "context"}


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
    repeats: int = 0  # how many times the last call was made with the same result since files last changed
    last_call: tuple[str, str, str] | None = None  # (tool, canonical arguments, output)
    # Calls made since files last changed, with how often. Not only in a row: Qwen alternated a failing
    # edit_file (old == new) with run_tests until the time limit.
    seen: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def note_call(self, name: str, arguments: str, output: str) -> int:
        """Record a finished call; returns how many times it has been made with this result since
        files last changed (see changed)."""
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            parsed = arguments
        amount = AMOUNT_ARGS.get(name)
        if amount and isinstance(parsed, dict):  # the same question, however much of its answer is shown
            parsed = {key: value for key, value in parsed.items() if key != amount}
        canonical = json.dumps(parsed, sort_keys=True) if isinstance(parsed, dict) else arguments
        # A test run's timings differ run to run.
        # For a tool with an amount argument, the output (which grows with it) is left out: with no file
        # changed in between (see changed), the same question gets the same answer.
        key = (name, canonical, "" if amount else DURATION.sub("#s", output))
        self.repeats = self.seen[key] = self.seen.get(key, 0) + 1
        self.last_call = key
        return self.repeats

    def changed(self) -> None:
        """Files changed: the same call may now give the same result for a new reason."""
        self.seen.clear()
        self.repeats = 0

    def steps_left(self) -> int | None:
        return None if self.limits.max_steps is None else self.limits.max_steps - self.steps

    def stuck(self) -> bool:
        """Whether the model is stuck (failing step after step, or repeating itself) rather than out of budget."""
        return (self.consecutive_errors >= self.limits.max_consecutive_errors
                or (self.repeats >= self.limits.max_repeats and self.last_call is not None))

    def unstick(self, forget_calls: bool = True) -> None:
        """A fresh start: past errors and repeats no longer count; with `forget_calls` False, a call
        made again still counts its earlier times (the model was only given a step to answer)."""
        self.consecutive_errors, self.repeats, self.last_call = 0, 0, None
        if forget_calls:
            self.seen.clear()

    @property
    def deadline(self) -> float | None:
        return None if self.limits.timeout_s is None else self.started + self.limits.timeout_s

    def exceeded(self) -> str | None:
        """Why the run must stop before the next model call, or None."""
        lim = self.limits
        if why := self.out_of_budget():
            return why
        if self.repeats >= lim.max_repeats and self.last_call:
            return (f"repeating: the same {self.last_call[0]} call with the same result {self.repeats} times "
                    "with no file changed in between; stopping instead of looping")
        if self.consecutive_errors >= lim.max_consecutive_errors:
            return f"{self.consecutive_errors} consecutive failed tool steps; stopping instead of looping"
        return None

    def out_of_budget(self) -> str | None:
        """Why the steps, cost or time allowed are used up, or None."""
        lim = self.limits
        if lim.max_steps is not None and self.steps >= lim.max_steps:
            return f"step limit reached ({lim.max_steps} model call{'s' * (lim.max_steps != 1)})"
        if lim.max_cost_usd is not None and self.cost_usd >= lim.max_cost_usd:
            return f"cost limit reached (${self.cost_usd:.4f} of ${lim.max_cost_usd:.4f})"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return f"time limit reached ({lim.timeout_s:g}s)"
        return None


# grep's "path:line:text", search_code's "1. path:start-end symbol".
HIT = re.compile(r"^(?:\d+\. )?(?P<path>[^\s:\[][^:\n]*?):(?P<line>\d+)[:-]", re.M)


def next_call(name: str, output: str) -> str:
    """For a call the model repeats: the call to make instead, read off the result it already has
    ("" when the result names nothing to go on). A small model told only "try something else" repeated
    a grep that had found the answer (Qwen2.5-Coder-1.5B, three times, then the guard ended its turn)."""
    if name == "read_file" and not output.startswith("Error"):
        return "The file's content is above: edit it, or answer from it."
    hit = HIT.search(output)
    if hit:
        start = max(1, int(hit["line"]) - 10)
        return (f"Its first match is {hit['path']} line {hit['line']}. If what it shows answers the question, "
                f"give your final answer now; else call read_file with path {hit['path']!r} and start_line "
                f"{start} to see the code around it.")
    return ""

