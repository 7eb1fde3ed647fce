"""A careful session's narrowed step (a reason, then one line's fix) on a local model, its reason's opening
written into the prompt or forced by the grammar token by token, alternating in one run.

    python bench/narrowed_step.py [--model local:qwen2.5-coder-1.5b] [--steps 4]

The prompt is QuixBugs-shaped (gcd's program and its failing run's first failure, as run_tests says it);
each step starts from the same cached prompt (the first, uncached, is left out). Prints a Markdown table:
median seconds and generated tokens per step for each way, and their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


from wren.agent.models import resolve_backend
from wren.agent.narrowing import narrowed_edit
from wren.agent.prompt import system_prompt
from wren.core.messages import Message
from wren.local_models import backend as local
from wren.tools.base import default_registry
from wren.tools.workspace import Workspace

GCD = "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)\n"
FAILURE = ("`gcd(13, 13)` raised RecursionError: maximum recursion depth exceeded, in `return gcd(a % b, b)` with "
           "a = 0, b = 13, at the end of the calls gcd(13, 13) -> gcd(0, 13) (the same call over and over); "
           "expected 13")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="local:qwen2.5-coder-1.5b", help="a local model (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=4, help="timed steps of each way (default: %(default)s)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    (root / "gcd.py").write_text(GCD)
    backend = resolve_backend(args.model)
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["gcd.py"],
                             Workspace(root), failure=FAILURE)
    prompt = [Message(role="system", content=system_prompt(root)),
              Message(role="user", content=f"The tests in test_gcd.py fail; fix gcd.py.\n\ngcd.py:\n{GCD}\n"
                                           f"First failure: {FAILURE}")]
    rows: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
    backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)  # warm: model and prompt cached
    for i in range(2 * args.steps):
        local.PREFILLED_OPENING = prefilled = i % 2 == 0
        started = time.perf_counter()
        reply = backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)
        rows[prefilled].append((time.perf_counter() - started, reply.usage.completion_tokens))
        print(f"step {i + 1}/{2 * args.steps}: {'prefilled' if prefilled else 'forced'} "
              f"{rows[prefilled][-1][0]:.1f}s", file=sys.stderr, flush=True)
    med = {k: statistics.median(s for s, _ in v) for k, v in rows.items()}
    print(f"Narrowed steps on {backend.name}, {args.steps} each, {time.strftime('%Y-%m-%d')}\n")
    print("| opening | median s per step | median generated tokens |\n|---|---:|---:|")
    for key, label in ((False, "forced by the grammar"), (True, "written into the prompt")):
        print(f"| {label} | {med[key]:.1f} | {statistics.median(t for _, t in rows[key]):.0f} |")
    print(f"\nprompt-written / grammar-forced time: {med[True] / med[False]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
