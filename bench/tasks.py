"""Task success on QuixBugs: Wren and its peers on the same local model, side by side.

    python bench/tasks.py --quixbugs PATH [--tasks dev|NAME,NAME] [--systems wren,mini-swe-agent,aider]
    python bench/tasks.py --quixbugs PATH --systems "wren[effort=low],wren,wren[effort=max fast=local:smollm2]"
    python bench/tasks.py --report bench/results/tasks-*.jsonl [--tasks ...] [--systems ...]

Each task is a fresh git repo (bench/quixbugs.py) and the same prompt for every system; success is
the task's test file passing afterwards with no test file changed. Every system gets 20 steps and
the same GGUF on the same llama.cpp build: Wren loads it in process (its default local backend),
the peers reach it through `python -m llama_cpp.server` (bench/peers.py). Peer results are cached
per model and peer version, so a re-run only runs Wren. Prints a Markdown table. `wren[KEY=VALUE ...]`
runs Wren with an effort level or model roles (bench/settings.py; an effort scales the 20 steps as
Wren scales its default budget: low 5, high 30, max 40); bench/tradeoff.py plots the settings'
solved rate against their time per task. `--report` runs nothing: it prints the table of rows already
recorded (runs' results.jsonl), the newest row of each system and task, with the Wren commits they came from.

Tune only on the development set (`--tasks dev`, the default); the other 20 programs are held out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: `bench` is a namespace package

from bench import quixbugs  # noqa: E402
from bench.peers import PEERS  # noqa: E402
from bench.settings import WrenSetting, parse  # noqa: E402

STEP_LIMIT = 20
SYSTEMS = "wren,mini-swe-agent,aider"
N_CTX = 8192  # Wren's local default window; the peers' server gets the same
CACHE = Path.home() / ".cache" / "wren" / "bench"
WREN = Path(sys.executable).parent / "wren"
DEFAULT_MODEL = Path.home() / ".cache" / "wren" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def wren_commit() -> str:
    """The git commit (short; "+dirty" with uncommitted changes) of the Wren source that `wren run` imports now
    (PYTHONPATH may point it at another worktree than this script's), read as each task starts: a long run may
    span commits. "unknown" outside a git checkout."""
    import git

    found = subprocess.run([sys.executable, "-c", "import wren.core; print(wren.core.__file__)"],
                           capture_output=True, text=True)
    if found.returncode or not found.stdout.strip():
        return "unknown"
    try:
        repo = git.Repo(Path(found.stdout.strip()).parent, search_parent_directories=True)
        return repo.head.commit.hexsha[:7] + ("+dirty" if repo.is_dirty() else "")
    except (git.exc.GitError, ValueError):
        return "unknown"


def run_wren(workspace: Path, name: str, model: Path | str, log_dir: Path, timeout_s: float,
             setting: WrenSetting | None = None) -> dict:
    """Wren headless on one task on `model` (a GGUF path, or a model string such as `scripted:PATH`), with
    `setting`'s flags and roles (bench/settings.py): its result object's numbers, as a row. A plan-mode
    setting runs twice within the task's steps and seconds: `wren run --plan` (the plan role explores
    read-only and writes the plan), then `wren run --plan-file` (the edit role carries the plan out) with
    the steps and seconds the first left; the row adds the two up, and `plan_s`, `plan_steps` are the
    first's (`planned`: whether it wrote a plan). Without a plan, or with no step or second left to carry
    it out (status "limit"), the task ends with the first run."""
    setting = setting or WrenSetting(name="wren")
    log_dir = log_dir.resolve()  # the runs' working directory is the workspace: every path given them is absolute
    log = log_dir / f"{setting.slug}-{name}.jsonl"
    commit = wren_commit()
    started = time.monotonic()
    env = {**os.environ, **setting.environment(log_dir / f"{setting.slug}-{name}")}
    run = [str(WREN), "run", "--model", model if isinstance(model, str) else f"local:{model}", *setting.flags()]
    steps, task, runs, code = setting.steps(STEP_LIMIT), [quixbugs.prompt(name)], [], 0
    if setting.mode == "plan":
        plan_file = log.with_suffix(".plan.json")
        code, planned = _run([*run, *task, "--plan", "--max-steps", str(steps), "--timeout", f"{timeout_s:.0f}",
                              "--output-format", "json"], plan_file, env, workspace)
        runs.append((plan_file, planned))
        steps -= planned.get("steps") or 0
        timeout_s -= time.monotonic() - started
        task = ["--plan-file", str(plan_file)] if code == 0 and planned.get("plan") else []
    if task and steps >= 1 and timeout_s >= 1:
        code, result = _run([*run, *task, "--approval", "auto", "--max-steps", str(steps), "--timeout",
                             f"{timeout_s:.0f}", "--output-format", "stream-json"], log, env, workspace)
        runs.append((log, result))
    results = [result for _, result in runs] or [{}]
    usage = [r.get("usage") or {} for r in results]
    row = {"wall_s": round(time.monotonic() - started, 1), "exit_code": code,
           "steps": sum(r.get("steps") or 0 for r in results),
           "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
           "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
           "status": results[-1].get("status"), "log": str(runs[-1][0] if runs else log), "commit": commit}
    if setting.mode == "plan":
        row.update(plan_s=results[0].get("duration_s"), plan_steps=results[0].get("steps"), planned=bool(task))
        if task and len(runs) == 1:  # planned, with nothing left to carry it out
            row["status"] = "limit"
    return row


def _run(command: list[str], log: Path, env: dict, workspace: Path) -> tuple[int, dict]:
    """Run `command` (a `wren run`) in `workspace`, stdout to `log` and stderr beside it (a run that dies at
    start, a missing module, must say why): its exit code and the result object it wrote ({} if none)."""
    with log.open("w") as out, log.with_suffix(".err").open("w") as err:
        done = subprocess.run(command, cwd=workspace, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    result = next((json.loads(line) for line in reversed(log.read_text().splitlines())
                   if '"type": "result"' in line or '"type":"result"' in line), {})
    return done.returncode, result


def run_peer_task(peer: str, workspace: Path, name: str, server, proxy, log_dir: Path, timeout_s: float) -> dict:
    from bench import peers

    proxy.reset()
    row = peers.run_peer(peer, workspace, name, proxy.url, server.alias, log_dir, STEP_LIMIT, timeout_s,
                         n_ctx=server.n_ctx)
    totals = proxy.totals()
    if row["timed_out"]:  # the server finishes the killed peer's last call before it serves the next task
        proxy.wait_idle()
    return {**row, "steps": totals["requests"], "prompt_tokens": totals["prompt_tokens"],
            "completion_tokens": totals["completion_tokens"]}


def table(rows: list[dict], systems: list[str], tasks: list[str]) -> str:
    """The Markdown summary: one line per system, then who solved each task."""
    out = ["| system | solved | rate | median wall s (all / solved) | median prompt / completion tokens |",
           "|---|---|---|---|---|"]
    by = {(r["system"], r["task"]): r for r in rows}
    for system in systems:
        mine = [by[(system, t)] for t in tasks if (system, t) in by]
        if not mine:
            continue
        solved = [r for r in mine if r["solved"]]
        wall_all = statistics.median(r["wall_s"] for r in mine)
        wall_solved = f"{statistics.median(r['wall_s'] for r in solved):.0f}" if solved else "-"
        prompt = statistics.median(r["prompt_tokens"] for r in mine)
        completion = statistics.median(r["completion_tokens"] for r in mine)
        out.append(f"| {system} | {len(solved)}/{len(mine)} | {len(solved) / len(mine):.0%} | "
                   f"{wall_all:.0f} / {wall_solved} | {prompt:.0f} / {completion:.0f} |")
    out += ["", "| task | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for task in tasks:
        cells = []
        for system in systems:
            r = by.get((system, task))
            cells.append("-" if r is None else "solved" if r["solved"] else
                         "tests changed" if r["tests_changed"] else r.get("status") or "failed")
        out.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(out)


ROW_KEYS = ("system", "task", "solved", "wall_s", "prompt_tokens", "completion_tokens")  # what table() reads


def latest(paths: list[Path]) -> list[dict]:
    """The rows of results.jsonl files (bench/results/tasks-*.jsonl), the last of each (system, task) in the order
    given (files, then lines: oldest first), so a re-run replaces an earlier row; in the order their (system, task)
    first came. ValueError naming the file and line of a row that is not a JSON object with ROW_KEYS; OSError for
    a file that cannot be read."""
    rows: dict[tuple[str, str], dict] = {}
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not a result row ({exc})") from None
            missing = [k for k in ROW_KEYS if not isinstance(row, dict) or k not in row]
            if missing or not all(isinstance(row[k], str) for k in ("system", "task")):
                raise ValueError(f"{path}:{n}: not a result row (" + (f"no {', '.join(missing)})" if missing else
                                                                     "system and task must be strings)"))
            key = (row["system"], row["task"])
            rows[key] = row
    return list(rows.values())


def report(paths: list[Path], systems: list[str] | None, tasks: list[str]) -> str:
    """The table (table) of the rows recorded in `paths` (latest), for `systems` (None: every system there, in
    the order first seen) and those of `tasks` that have a row, with a line naming the Wren commits of its rows."""
    rows = [r for r in latest(paths) if r["task"] in tasks]
    systems = systems or list(dict.fromkeys(r["system"] for r in rows))
    rows = [r for r in rows if r["system"] in systems]
    tasks = [t for t in tasks if any(r["task"] == t for r in rows)]
    commits = sorted({r["commit"] for r in rows if r.get("commit")})
    head = f"{len(tasks)} tasks; Wren rows from {', '.join(commits) or 'an unrecorded commit'}\n\n"
    return head + table(rows, systems, tasks)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="dev", help="'dev' (the 20 development programs) or NAME,NAME,...")
    ap.add_argument("--systems", default=None,
                    help="comma-separated: wren, wren[effort=LEVEL ROLE=MODEL ...], mini-swe-agent, aider "
                         f"(default: {SYSTEMS}; with --report, every system recorded)")
    ap.add_argument("--quixbugs", type=Path, help="a clone (or bare mirror) of jkoppel/QuixBugs; default: clone it")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the GGUF every system runs on")
    ap.add_argument("--out", type=Path, default=CACHE / "runs" / time.strftime("%Y%m%d-%H%M%S"))
    ap.add_argument("--timeout", type=float, default=900, help="wall-clock seconds per task and system")
    ap.add_argument("--rerun-peers", action="store_true", help="ignore cached peer results")
    ap.add_argument("--report", type=Path, nargs="+", metavar="RESULTS",
                    help="run nothing: print the table of these results.jsonl files, oldest first (the newest row "
                         "per system and task)")
    args = ap.parse_args()

    tasks = list(quixbugs.DEV) if args.tasks == "dev" else [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.report:
        try:
            print(report(args.report, args.systems and [s.strip() for s in args.systems.split(",")], tasks))
        except (OSError, ValueError) as exc:
            print(f"cannot report: {exc}", file=sys.stderr)
            return 2
        return 0
    held_out = [t for t in tasks if t not in quixbugs.DEV]
    if held_out:
        print(f"note: {', '.join(held_out)} not in the development set (held out: report, do not tune)",
              file=sys.stderr)
    systems = [s.strip() for s in (args.systems or SYSTEMS).split(",")]
    try:
        settings = {system: parse(system) for system in systems}
        problems = [f"{system} is listed twice" for system in set(systems) if systems.count(system) > 1]
        problems += [f"{system} is neither Wren nor a peer ({', '.join(PEERS)})"
                     for system, setting in settings.items() if setting is None and system not in PEERS]
        if problems:
            raise ValueError("; ".join(problems))
    except ValueError as exc:
        print(f"bad --systems: {exc}", file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    if any(settings.values()) and (why := quixbugs.sandbox_missing()):
        print(f"cannot run Wren on the tasks here: {why}", file=sys.stderr)
        return 2
    if not args.model.is_file():
        print(f"no model at {args.model}: run `wren models pull qwen2.5-coder-1.5b`", file=sys.stderr)
        return 2
    source = quixbugs.source(args.quixbugs, CACHE)
    args.out.mkdir(parents=True, exist_ok=True)
    model_key = args.model.stem
    rows: list[dict] = []
    server = proxy = None
    try:
        for i, task in enumerate(tasks, 1):
            for system in systems:
                row = None
                setting = settings[system]
                if setting is None:
                    from bench import peers

                    row = None if args.rerun_peers else peers.cached(model_key, system, task)
                if row is None:
                    workspace = quixbugs.make_workspace(source, task, args.out / (setting.slug if setting else system) / task)
                    if setting is not None:
                        row = run_wren(workspace, task, args.model, args.out, args.timeout, setting)
                    else:
                        if server is None:
                            from bench.token_proxy import TokenProxy

                            server = peers.LlamaServer(args.model, n_ctx=N_CTX).__enter__()
                            proxy = TokenProxy(server.root).__enter__()
                        row = run_peer_task(system, workspace, task, server, proxy, args.out, args.timeout)
                    outcome = quixbugs.check(workspace, task)
                    row.update(system=system, task=task, solved=outcome.solved, passed=outcome.passed,
                               tests_changed=outcome.tests_changed)
                    if setting is None:
                        peers.store(model_key, system, task, row)
                rows.append(row)
                with (args.out / "results.jsonl").open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                mark = "solved" if row["solved"] else "failed"
                print(f"[{i}/{len(tasks)}] {task} {system}: {mark} in {row['wall_s']:.0f}s", file=sys.stderr,
                      flush=True)
    finally:
        if proxy is not None:
            proxy.__exit__(None, None, None)
        if server is not None:
            server.__exit__(None, None, None)
    print(f"QuixBugs tasks on {args.model.name}, step limit {STEP_LIMIT}, {date.today().isoformat()}\n")
    print(table(rows, systems, tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
