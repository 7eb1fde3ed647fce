"""Long-horizon tasks: QuixBugs development tasks chained in one session on a small window.

    python bench/chained.py --quixbugs PATH [--tasks gcd,lis,kth] [--window 4096]
                            [--model local:qwen2.5-coder-1.5b] [--variants tools,no-tools]

One workspace holds every QuixBugs program and test (bench/quixbugs.py); one session gets the
tasks one after another, each with bench/tasks.py's prompt, as turns of the same conversation. The
context budget is `--window` tokens (ContextConfig.window; 4,096 by default), so the earlier tasks
are compacted away while a later one runs. Two variants, each from fresh files:

- tools: the model is offered the context tools `compact`, `forget` and `pin` (tools/steer.py);
- no-tools: the same session without them (Wren still compacts by itself at the budget).

Per task: solved (its test file passes and no test file changed during its turn, as in
bench/tasks.py), steps, the compactions during its turn, and the most compactions Wren made by
itself between two of the model's steps (a compaction loop would show as more than one; the model's
own `compact` is not counted there). Every task gets bench/tasks.py's step limit and a
wall-clock limit (`--timeout`). Prints a Markdown table; rows also go to OUT/results.jsonl.

Tune only on the development set: the task names must be in bench/quixbugs.py's DEV.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: `bench` is a namespace package

from bench import quixbugs  # noqa: E402
from bench.tasks import CACHE, STEP_LIMIT  # noqa: E402
from wren.agent.approval import Policy  # noqa: E402
from wren.agent.limits import Limits  # noqa: E402
from wren.agent.models import resolve_backend  # noqa: E402
from wren.agent.session import Session, SessionConfig  # noqa: E402
from wren.core.backend import ModelBackend  # noqa: E402
from wren.core.config import ContextConfig  # noqa: E402
from wren.core.ops import Shutdown, UserInput  # noqa: E402
from wren.tools.base import Registry, default_registry  # noqa: E402

CONTEXT_TOOLS = ("compact", "forget", "pin")  # the tools the model steers its context with
DEFAULT_TASKS = ("gcd", "lis", "kth")
VARIANTS = ("tools", "no-tools")


def registry(variant: str) -> Registry:
    """Wren's default tools, less CONTEXT_TOOLS for the "no-tools" variant."""
    tools = default_registry().tools.values()
    return Registry([t for t in tools if variant == "tools" or t.name not in CONTEXT_TOOLS])


def run_chain(variant: str, tasks: list[str], workspace: Path, backend: ModelBackend, window: int,
              timeout_s: float, out: Path) -> list[dict]:
    """One session on `backend` over `tasks` in `workspace` (a git repo of QuixBugs' files); a row per
    task, each also appended to OUT/results.jsonl."""
    model = backend.name
    session = Session(SessionConfig(root=workspace, backend=backend, registry=registry(variant),
                                    policy=Policy(mode="auto"), context=ContextConfig(window=window),
                                    limits=Limits(max_steps=STEP_LIMIT, timeout_s=timeout_s)))
    rows: list[dict] = []
    pending = list(tasks)
    session.submit(UserInput(text=quixbugs.prompt(pending[0])))
    compactions = since_step = most_between_steps = 0
    tests_changed_before: set[str] = set()
    started = time.monotonic()
    for event in session.events():
        if event.type == "context_compacted":
            compactions += 1
            # A loop is Wren compacting again and again by itself; the model's own `compact` then Wren's is not.
            since_step += event.reason in ("auto", "overflow")
            most_between_steps = max(most_between_steps, since_step)
        elif event.type == "assistant_message" and event.by == "model":
            since_step = 0
        elif event.type == "error":
            print(f"wren: {'error' if event.fatal else 'warning'}: {event.message}", file=sys.stderr, flush=True)
        elif event.type == "result":
            task = pending.pop(0)
            check = quixbugs.check(workspace, task)
            # A test file changed in an earlier task is that task's doing, not this one's.
            changed = set(check.tests_changed) - tests_changed_before
            tests_changed_before = set(check.tests_changed)
            solved = check.passed and not changed
            rows.append({"variant": variant, "task": task, "solved": solved, "status": event.status,
                         "steps": event.steps, "compactions": compactions,
                         "most_compactions_between_steps": most_between_steps,
                         "wall_s": round(time.monotonic() - started, 1), "window": window, "model": model})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            with (out / "results.jsonl").open("a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
            compactions = since_step = most_between_steps = 0
            started = time.monotonic()
            session.submit(UserInput(text=quixbugs.prompt(pending[0])) if pending else Shutdown())
    return rows


def table(rows: list[dict], variants: list[str]) -> str:
    """The Markdown summary: a line per variant, then each task's outcome."""
    lines = ["| context tools | solved | compactions | most compactions between two steps | median wall s per task |",
             "|---|---:|---:|---:|---:|"]
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        if mine:
            lines.append(f"| {variant} | {sum(r['solved'] for r in mine)}/{len(mine)} | "
                         f"{sum(r['compactions'] for r in mine)} | "
                         f"{max(r['most_compactions_between_steps'] for r in mine)} | "
                         f"{statistics.median(r['wall_s'] for r in mine):.0f} |")
    lines += ["", "| variant | task | outcome | steps | compactions |", "|---|---|---|---:|---:|"]
    lines += [f"| {r['variant']} | {r['task']} | {'solved' if r['solved'] else r['status']} | {r['steps']} | "
              f"{r['compactions']} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quixbugs", type=Path, help="a clone (or bare mirror) of jkoppel/QuixBugs; default: clone it")
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="development tasks, in the order given")
    ap.add_argument("--model", default="local:qwen2.5-coder-1.5b", help="the model every turn runs on")
    ap.add_argument("--window", type=int, default=4096, help="the context budget in tokens")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="tools, no-tools, or both")
    ap.add_argument("--timeout", type=float, default=900, help="wall-clock seconds per task")
    ap.add_argument("--out", type=Path, default=CACHE / "chained" / time.strftime("%Y%m%d-%H%M%S"))
    args = ap.parse_args()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not tasks or any(t not in quixbugs.DEV for t in tasks):
        print(f"--tasks: development tasks only ({', '.join(quixbugs.DEV)})", file=sys.stderr)
        return 2
    if not variants or any(v not in VARIANTS for v in variants):
        print(f"--variants: {' or '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if why := quixbugs.sandbox_missing():
        print(f"cannot run the tasks here: {why}", file=sys.stderr)
        return 2
    source = quixbugs.source(args.quixbugs, CACHE)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [row for variant in variants
            for row in run_chain(variant, tasks, quixbugs.make_workspace(source, tasks[0], args.out / variant),
                                 resolve_backend(args.model), args.window, args.timeout, args.out)]
    print(f"{len(tasks)} QuixBugs tasks chained in one session on {args.model}, window {args.window} tokens, "
          f"step limit {STEP_LIMIT} a task, {date.today().isoformat()}\n")
    print(table(rows, variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
