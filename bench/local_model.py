"""SmolLM2 on llama.cpp as an agent: parseable steps with and without the grammar, KV-cache reuse,
time to first token and generation speed, over the same fixed prompts in one run.

    python bench/local_model.py [--steps 30]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models import resolve_backend
from wren.core.ops import Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.tools.base import default_registry

PROMPTS = ["List the files in this repository.", "Read calc.py and tell me what add does.",
           "Search for the word add in the Python files.", "Make a plan to fix the failing test.",
           "What does test_calc.py check?", "Show me line 2 of calc.py.", "Which files mention assert?",
           "Is there a README?", "Find every def in the repository.", "Read test_calc.py.",
           "List the files matching *.py.", "What is the first line of calc.py?"]


def parseable(raw: str) -> bool:
    """A valid step: one offered tool with valid arguments, or a reply."""
    registry = default_registry()
    try:
        step = json.loads(raw, strict=False)
    except json.JSONDecodeError:
        return False
    if isinstance(step, dict) and set(step) == {"reply"} and isinstance(step["reply"], str):
        return True
    if not isinstance(step, dict) or step.get("tool") not in registry.tools:
        return False
    try:
        registry.parse(registry.tools[step["tool"]], json.dumps(step.get("arguments", {})))
    except Exception:  # ToolError or a validation failure: not a usable step
        return False
    return True


def run(repo: Path, backend, steps: int) -> tuple[list[dict], int]:
    """One conversation, a turn per prompt of PROMPTS (cycling, at most 3 steps each), until `steps`
    model calls: (one row per call, compactions)."""
    rows: list[dict] = []
    prompts = iter(PROMPTS * 10)
    session = Session(SessionConfig(root=repo, backend=backend, registry=default_registry(),
                                    policy=Policy(mode="read-only"), limits=Limits(max_steps=3)))
    session.submit(UserInput(text=next(prompts)))
    first, compactions = True, 0
    for event in session.events():
        if event.type == "usage":
            s = backend.last
            rows.append({"raw": s.raw, "prompt": event.step.prompt_tokens, "cached": event.step.cached_tokens,
                         "ttft": s.ttft_s, "tps": s.generated / s.gen_s if s.gen_s else 0.0, "first": first})
            first = False
        elif event.type == "context_compacted":
            compactions, first = compactions + 1, True  # the next step starts a new prefix
        elif event.type == "result":
            session.submit(UserInput(text=next(prompts)) if len(rows) < steps else Shutdown())
    return rows[:steps], compactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    backend = resolve_backend("local")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
        (repo / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        results = {}
        for constrained in (True, False):
            backend.constrained = constrained
            results[constrained] = run(repo, backend, args.steps)
            backend.clear_cache()  # the second run starts from an empty cache too, none saved
    print(f"SmolLM2-135M-Instruct Q4_1, {backend.hardware.backend}, {backend.hardware.threads} threads, "
          f"n_ctx {backend.window}\n")
    print("| decoding | steps | compactions | parseable | prompt tokens sent | evaluated | reused "
          "| reused, steps after the first and after compactions | TTFT median ms | tokens/s median |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for constrained, (rows, compactions) in results.items():
        ok = sum(parseable(r["raw"]) for r in rows)
        sent, cached = sum(r["prompt"] for r in rows), sum(r["cached"] for r in rows)
        later = [r for r in rows if not r["first"]]
        later_share = 100 * sum(r["cached"] for r in later) / max(1, sum(r["prompt"] for r in later))
        print(f"| {'grammar' if constrained else 'free'} | {len(rows)} | {compactions} | {ok}/{len(rows)} = {100 * ok / len(rows):.0f}% "
              f"| {sent} | {sent - cached} | {100 * cached / sent:.0f}% | {later_share:.0f}% ({len(later)} steps) "
              f"| {statistics.median(r['ttft'] for r in rows) * 1000:.0f} "
              f"| {statistics.median(r['tps'] for r in rows):.0f} |")
    for constrained, (rows, _) in results.items():
        for n, row in enumerate(rows):
            if not parseable(row["raw"]):
                print(f"unparseable ({'grammar' if constrained else 'free'}) step {n}: {row['raw'][:300]!r}",
                      file=sys.stderr)


if __name__ == "__main__":
    main()
