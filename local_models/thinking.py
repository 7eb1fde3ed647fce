"""Thinking on local models whose chat template has a switch (Qwen3's `enable_thinking`).

A step with thinking on runs in two parts: the model first writes its thinking freely after
`<think>` (up to the effort's token cap, streamed as thoughts), then the closed think block is part
of the prompt and the grammar-constrained step follows as usual. With thinking off (low effort)
the template writes the empty think block itself.
"""
from __future__ import annotations

from wren.core.backend import EffortSupport

SWITCH = "enable_thinking"  # the template variable Qwen3's chat templates read
OPEN, CLOSE = "<think>\n", "</think>"
# Tokens of thinking allowed per step at each effort; 0: thinking off.
THINK_TOKENS = {"low": 0, "medium": 512, "high": 2048, "max": 4096}


def has_switch(template: str | None) -> bool:
    return bool(template) and SWITCH in (template or "")


def support(name: str, template: str | None, effort: str) -> EffortSupport:
    """What `effort` does on a local model with this chat template."""
    if has_switch(template):
        cap = THINK_TOKENS[effort]
        return EffortSupport(True, f"thinking off ({SWITCH}=false)" if not cap
                             else f"thinking on ({SWITCH}=true), up to {cap} tokens a step")
    if template and "<think>" in template:
        return EffortSupport(False, f"{name} thinks unasked (its template has no {SWITCH} switch)")
    return EffortSupport(False, f"{name}'s chat template has no thinking switch")


def closed(thought: str) -> str:
    """The think block as it goes into the prompt before the constrained step."""
    return f"{OPEN}{thought.strip()}\n{CLOSE}\n\n"
