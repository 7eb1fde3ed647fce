"""Effort: how hard the session's models think. Backends with a switch apply it to each call
(EffortSupport in core/backend.py); on the others it sets Wren's own step budget and whether Wren
has the model run the tests before it answers."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from wren.agent.limits import Limits
from wren.core.backend import EffortSupport, ModelBackend
from wren.core.events import EffortChanged

if TYPE_CHECKING:
    from wren.agent.session import Session

# Share of the default step budget (Limits.max_steps) a turn gets where the backend has no switch.
STEP_SHARE = {"low": 0.25, "medium": 1.0, "high": 1.5, "max": 2.0}
# Whether a turn that changed files is sent back to run the tests before answering (None: as the
# backend prefers, see SessionConfig.careful).
VERIFIES: dict[str, bool | None] = {"low": False, "medium": None, "high": True, "max": True}


def support(backend: ModelBackend, effort: str) -> EffortSupport:
    """What `backend` does with `effort`; unsupported for backends without `effort_support`."""
    ask = getattr(backend, "effort_support", None)
    if callable(ask):
        found: EffortSupport = ask(effort)
        return found
    return EffortSupport(False, f"{backend.name} has no effort switch")


def applies(s: "Session") -> bool:
    """Whether the session's backend takes its effort itself (else effort sets steps and verification)."""
    return s.effort is not None and support(s.backend, s.effort).supported


def verifies(s: "Session") -> bool:
    """Whether an answer after untested changes is sent back to run the tests (careful.ask_to_verify)."""
    if s.effort is not None and not applies(s) and VERIFIES[s.effort] is not None:
        return bool(VERIFIES[s.effort])
    return s.careful


def changed(backend: ModelBackend, effort: str, limits: Limits | None = None) -> EffortChanged:
    """The event that reports `effort` on `backend`: what it applies, or the step budget and
    verification it sets instead (a step budget the user set in `limits` stays, and is said to)."""
    found = support(backend, effort)
    if found.supported:
        return EffortChanged(effort=effort, applied=found.applied, supported=True)
    base = limits or Limits()
    steps, verify = turn_limits(base, effort).max_steps, VERIFIES[effort]
    checks = {True: "tests run before answering", False: "no test run asked for", None: "verification as usual"}
    budget = (f"the step budget stays the {steps} steps set" if base.max_steps != Limits.max_steps
              else f"effort sets the step budget ({steps} steps)")
    return EffortChanged(effort=effort, supported=False, applied=f"{found.applied}: {budget} and {checks[verify]}")


def turn_limits(limits: Limits, effort: str | None) -> Limits:
    """A turn's limits under `effort` on a backend without a switch: a step budget that was left at
    its default scales with the effort; one the user set stays."""
    if effort is None or limits.max_steps != Limits.max_steps or limits.max_steps is None:
        return limits
    return replace(limits, max_steps=step_budget(limits.max_steps, effort))


def step_budget(steps: int, effort: str) -> int:
    """`steps` (a medium effort's budget) scaled for `effort` by STEP_SHARE; at least 1. KeyError for
    an effort not in EFFORTS."""
    return max(1, round(steps * STEP_SHARE[effort]))
