"""How often one narrowed step fixes a QuixBugs task, under each sampling setting, from the same prompt.

    python bench/step_fixes.py --quixbugs PATH --tasks bucketsort,max_sublist_sum [--samples 8]
        [--sampling recommended,wide] [--model PATH.gguf] [--out SAMPLES.jsonl]

A careful session's attempt is one narrowed step (a reason, then one line's fix; agent/narrowing.py); a task
fails when no attempt's step writes the right fix. This measures that step alone, without the noise of a
whole run: Wren orients on the task as `wren run` does (the same session code, a real test run), the first
narrowed step's prompt is kept, and the model samples that step `--samples` times under each sampling
setting (the llama.cpp KV cache holds the prompt, so each sample costs its generated tokens only). Each
sampled edit is applied to a copy of the task and the task's test file run (bench/quixbugs.check); an edit
edit_file refuses (would not parse, an undefined name) fixes nothing. Prints a Markdown table: per task and
setting, the samples that fixed the task, the distinct fixes (`new` texts) and the most frequent ones;
`--out` also writes a JSON line per sample (its reason and fix), to read what the model thought.

Tune only on the development set; the other 20 programs are held out (bench/quixbugs.DEV).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: `bench` is a namespace package

from bench import quixbugs  # noqa: E402
from bench.tasks import DEFAULT_MODEL  # noqa: E402
from wren.agent.start import session_config  # noqa: E402
from wren.core.errors import ModelError, ToolError  # noqa: E402
from wren.core.ops import Shutdown, UserInput  # noqa: E402
from wren.local_models.catalog import Sampling, sampling_for  # noqa: E402


def wider(sampling: Sampling) -> Sampling:
    """`sampling` made to reach more of the tokens a model ranks below its first choices: temperature at least
    1.0, top_p at least 0.95, top_k at least 40, min_p 0.05 (still cutting tokens under 5% of the likeliest's
    probability); its repeat penalty kept."""
    return dataclasses.replace(sampling, temperature=max(sampling.temperature, 1.0), top_p=max(sampling.top_p, 0.95),
                               top_k=max(sampling.top_k, 40), min_p=0.05)


# Each a function of the model's recommended sampling (local_models/catalog.py).
SETTINGS = {"recommended": lambda s: s, "wide": wider}


class FirstStep:
    """A backend that keeps a session's first model request (prompt, tools, tool_choice) and ends the turn there
    (a non-retryable ModelError); everything else is the wrapped backend's. `complete` takes `tool_choice`, so the
    session narrows the step as it would for the local backend (careful.takes_tool_choice)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.request = backend, None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def complete(self, messages, tools, on_delta, effort=None, on_thought=None, tool_choice="auto"):
        self.request = (messages, tools, tool_choice)
        raise ModelError("bench: the first step is kept, not taken")


def first_step(workspace: Path, name: str, model: Path) -> tuple[Any, tuple]:
    """Orient a careful session on the task in `workspace`; (the local backend, its first step's request)."""
    from wren.agent.session import Session

    cfg = session_config(workspace, model=f"local:{model}", api_base=None, approval="auto", resume=None,
                         continue_last=False)
    capture = FirstStep(cfg.backend)
    session = Session(dataclasses.replace(cfg, backend=capture))
    session.submit(UserInput(text=quixbugs.prompt(name)))
    session.submit(Shutdown())
    for _ in session.events():
        pass
    if capture.request is None or not isinstance(capture.request[2], dict):
        raise SystemExit(f"{name}: orienting did not lead to a narrowed edit step")
    return cfg.backend, capture.request


def fixes(workspace: Path, name: str, arguments: str) -> tuple[str, bool]:
    """(the edit's `new`, whether applying it to a copy of `workspace` makes the task's tests pass). An edit the
    session would refuse (arguments that do not validate, `new` that would not parse or names what is not
    there) fixes nothing: its `new` comes back as "(refused) ..."."""
    from wren.tools.base import ToolContext, default_registry
    from wren.tools.workspace import Workspace

    try:
        tool, args = default_registry().prepare("edit_file", arguments)
    except ToolError as exc:
        return f"(refused) {str(exc)[:60]}", False
    copy = Path(tempfile.mkdtemp()) / "task"
    shutil.copytree(workspace, copy)
    try:
        result = tool.run(args, ToolContext(workspace=Workspace(copy), read_paths=None))
        return args.new, result.ok and bool(result.files_changed) and quixbugs.check(copy, name).solved
    except ToolError:
        return f"(refused) {args.new}", False
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quixbugs", type=Path, help="a QuixBugs clone or mirror (default: clone it)")
    ap.add_argument("--tasks", required=True, help="development task names, comma-separated")
    ap.add_argument("--samples", type=int, default=8, help="samples per task and setting (default: %(default)s)")
    ap.add_argument("--sampling", default="recommended,wide", help=f"settings among {', '.join(SETTINGS)}")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="a GGUF (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="also write one JSON line per sample here (its reason and fix)")
    args = ap.parse_args()
    tasks, settings = args.tasks.split(","), args.sampling.split(",")
    if unknown := [s for s in settings if s not in SETTINGS]:
        raise SystemExit(f"unknown sampling settings: {', '.join(unknown)} (choose among {', '.join(SETTINGS)})")
    if held := [t for t in tasks if t not in quixbugs.DEV]:
        raise SystemExit(f"not development tasks: {', '.join(held)} (the others are held out)")
    if why := quixbugs.sandbox_missing():
        raise SystemExit(f"cannot run the tasks here: {why}")
    source = quixbugs.source(args.quixbugs, Path.home() / ".cache" / "wren" / "bench")
    rows = []
    for name in tasks:
        workspace = quixbugs.make_workspace(source, name, Path(tempfile.mkdtemp()) / name)
        backend, (messages, tools, choice) = first_step(workspace, name, args.model)
        recommended: Sampling = sampling_for(args.model)
        for setting in settings:
            backend.sampling = SETTINGS[setting](recommended)
            news: Counter[str] = Counter()
            fixed, seconds = 0, []
            for i in range(args.samples):
                started = time.monotonic()
                reply = backend.complete(messages, tools, lambda text: None, tool_choice=choice)
                seconds.append(time.monotonic() - started)
                new, ok = fixes(workspace, name, reply.tool_calls[0].arguments) if reply.tool_calls else ("(no call)", False)
                news[" ".join(new.split())] += 1
                if args.out:
                    with args.out.open("a") as out:
                        out.write(json.dumps({"task": name, "sampling": setting, "fixed": ok, "new": new,
                                              "reason": reply.content, "seconds": round(seconds[-1], 1)}) + "\n")
                fixed += ok
                print(f"{name} {setting} {i + 1}/{args.samples}: {'FIXED' if ok else 'no'} {new.strip()[:80]!r}",
                      file=sys.stderr, flush=True)
            common = "; ".join(f"`{text[:50]}` {n}" for text, n in news.most_common(3))
            rows.append(f"| {name} | {setting} | {fixed}/{args.samples} | {len(news)} | "
                        f"{statistics.median(seconds):.0f} | {common} |")
        shutil.rmtree(workspace.parent, ignore_errors=True)
    print(f"One narrowed step, sampled from the same prompt, {args.model.name}, {time.strftime('%Y-%m-%d')}\n")
    print("| task | sampling | fixed | distinct fixes | median s per step | most frequent `new` (count) |")
    print("|---|---|---:|---:|---:|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
