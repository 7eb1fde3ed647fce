"""`wren batch TASKS.jsonl`: many tasks, each headless in a workspace of its own, several at once.

Each task is one JSON line (`BatchTask`). Its workspace is a fresh clone of its repository at the
commit under the batch directory, never the user's checkout. The agent runs there as `wren run`
does, in a worker process that runs its tasks one after another and keeps a local model loaded
between them (batch_worker.py), at most `--workers` at a time, or as Ray tasks on a cluster
(`--ray`; the executor is a seam, see batch_exec.py); then the task's `check` command, sandboxed
as run_tests is, decides whether it was solved. Each result is appended to `results.jsonl` as it finishes, so running the same
command again skips the tasks already done (resume after a crash or Ctrl+C). With `--chroma URL`
every task's code index and session memory live on one Chroma server, and the index of each
commit is built there once, before the tasks (batch_index.py).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wren.core.config import ChromaConfig
from wren.core.errors import ConfigError, ExitCode, ToolError
from wren.core.paths import STATE_DIR

CHECK_TIMEOUT_S = 600.0
OUTPUT_TAIL = 4000  # characters of a check's output kept in its result
_URL_PREFIXES = ("http://", "https://", "ssh://", "git://", "file://", "git@")


class BatchTask(BaseModel):
    """One line of a tasks file."""
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)  # also its folder's name
    repo: str  # a local path (relative to the tasks file) or a git URL
    commit: str | None = None  # default: the repository's HEAD
    prompt: str = Field(min_length=1)
    check: str | None = None  # a shell command run in the workspace after the agent; exit 0 = solved
    model: str | None = None
    approval: Literal["read-only", "ask", "auto-edit", "auto"] | None = None
    max_steps: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0)  # seconds for the agent (`wren run --timeout`)
    # What a Ray task asks of its node (--ray): CPUs (default 1), GPUs (default 1 for a local model on
    # a cluster with GPUs, else 0). The local pool runs --workers at a time and ignores them.
    num_cpus: float | None = Field(None, gt=0)
    num_gpus: float | None = Field(None, ge=0)


@dataclass(frozen=True)
class Job:
    """What every task of a batch shares: where relative paths start (the tasks file's folder),
    the batch folder, the Chroma server of the stores (None: each clone's embedded store), and
    whether a worker running tasks gets SIGTERM when the process that started it dies (a Ray
    worker, which the cluster may kill: its task then runs again elsewhere and must not race an
    orphan)."""
    base: Path
    out: Path
    chroma: ChromaConfig | None = None
    die_with_parent: bool = False


def load_tasks(path: Path) -> list[BatchTask]:
    """The tasks of a JSONL file; ConfigError naming the line of the first bad one, or a repeated id."""
    try:
        # utf-8-sig: editors on Windows start a UTF-8 file with a byte-order mark.
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read tasks file {path}: {exc}") from None
    tasks: list[BatchTask] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            task = BatchTask.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            raise ConfigError(f"{path}:{n}: {where}: {first['msg']}") from None
        if any(t.id == task.id for t in tasks):
            raise ConfigError(f"{path}:{n}: task id {task.id!r} is used twice; ids name results and folders")
        tasks.append(task)
    if not tasks:
        raise ConfigError(f"{path} holds no tasks: write one JSON object a line, with id, repo and prompt")
    return tasks


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL)


def _outside(work: Path):
    """copytree's ignore: Wren's state, and the folder that holds `work` (`--out` inside the task's folder),
    which a copy into `work` would copy into itself until the path is too deep."""
    work = work.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == STATE_DIR or (Path(folder) / n).resolve() in (work, *work.parents)}
    return ignore


def prepare_workspace(task: BatchTask, base: Path, work: Path) -> Path:
    """A fresh clone of the task's repository at its commit in `work` (a copy, for a folder that is
    not a repository). ToolError saying what is wrong with the repository or commit."""
    if work.exists():
        shutil.rmtree(work)  # an unfinished earlier try: start again from the commit
    work.parent.mkdir(parents=True, exist_ok=True)
    source = task.repo if task.repo.startswith(_URL_PREFIXES) else str((base / task.repo).resolve())
    if not task.repo.startswith(_URL_PREFIXES):
        if not Path(source).is_dir():
            raise ToolError(f"repo {task.repo!r} is not a folder (looked in {source})")
        if _git("rev-parse", "--git-dir", cwd=Path(source)).returncode != 0:
            if task.commit:
                raise ToolError(f"repo {task.repo!r} is not a git repository, so commit {task.commit} cannot be used")
            shutil.copytree(source, work, symlinks=True, ignore=_outside(work))
            return work
    cloned = _git("clone", "--quiet", "--no-checkout", source, str(work))
    if cloned.returncode != 0:
        raise ToolError(f"cannot clone {task.repo}: {cloned.stderr.strip()}")
    commit = task.commit or "HEAD"
    if _git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", cwd=work).returncode != 0:
        raise ToolError(f"commit {commit} is not in {task.repo}")
    checkout = _git("checkout", "--quiet", "--detach", commit, cwd=work)
    if checkout.returncode != 0:
        raise ToolError(f"cannot check out {task.commit or 'HEAD'} of {task.repo}: {checkout.stderr.strip()}")
    return work


class Stop:
    """The batch's worker processes running a task now, and whether the batch was told to stop."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def running(self, proc: subprocess.Popen) -> bool:
        """proc starts a task, unless the batch is stopping (then False)."""
        with self._lock:
            if self.signal is None:
                self._running.add(proc)
            return self.signal is None

    def finished(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(proc)

    def now(self, signum: int) -> None:
        """Stop: each running task gets the signal (its run ends its turn, kills its command and
        prints its result, as `wren run` does) and no new task starts."""
        with self._lock:
            self.signal = signum
            for proc in self._running:
                proc.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)


def _model(model: str | None, base: Path) -> str | None:
    """A relative `scripted:` path is relative to the tasks file, as `repo` is."""
    if model and model.startswith("scripted:") and not Path(model[len("scripted:"):]).is_absolute():
        return f"scripted:{base / model[len('scripted:'):]}"
    return model


def _wren_run(task: BatchTask, job: Job, work: Path, log: Path, stop: Stop) -> dict | None:
    """`wren run` on the task in its workspace, in a worker process of this process's (batch_worker.py):
    the worker's answer (the run's JSON result or None, its exit code, the model loads, the worker's
    pid), or {"result": None, "exit_code": STATUS, "died": True} when the worker died mid-task;
    None when the batch is stopping and the task did not start."""
    from wren.agent.rate_gate import ENV as RATE_ENV
    from wren.cli.batch_worker import WORKERS
    from wren.context.chroma import URL_ENV, describe

    args = ["--output-format", "json", "--include-diff"]
    for flag, value in (("--model", _model(task.model, job.base)), ("--approval", task.approval),
                        ("--max-steps", task.max_steps), ("--timeout", task.timeout)):
        if value is not None:
            args += [flag, str(value)]
    # One rate-limit budget per provider for all the batch's tasks (agent/rate_gate.py).
    env = {**os.environ, RATE_ENV: str(job.out / "rate-limits")}
    if job.chroma:
        env[URL_ENV] = describe(job.chroma)
    worker = WORKERS.take(env, job.die_with_parent, job.out / "workers.log")
    if not stop.running(worker.proc):
        WORKERS.give_back(worker)
        return None
    try:
        answer = worker.run({"args": args, "prompt": task.prompt, "cwd": str(work), "log": str(log)})
    except BaseException:  # a Ray cancel arrives as KeyboardInterrupt: the run stops, as on SIGTERM
        worker.stop()
        raise
    finally:
        stop.finished(worker.proc)
    if answer is None:
        return {"result": None, "exit_code": worker.proc.returncode, "died": True}
    WORKERS.give_back(worker)
    return answer


def _check(command: str, work: Path) -> dict:
    """The task's check, run as run_tests runs commands: in the workspace's sandbox, with a time limit."""
    from wren.core.config import load_config
    from wren.tools.process import run
    from wren.tools.sandbox import Sandbox

    done = run(command, work, CHECK_TIMEOUT_S, threading.Event(), Sandbox(load_config(work).sandbox))
    return {"command": command, "exit_code": done.exit_code, "passed": done.exit_code == 0,
            "killed": done.killed or None, "output": done.output[-OUTPUT_TAIL:]}


def error_record(task: BatchTask, job: Job, started: float, error: str) -> dict:
    """The results line of a task that ended in an error before the agent could report (it runs again
    next time)."""
    return {"id": task.id, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "workspace": str(job.out / "tasks" / task.id / "work"), "started": round(started, 3),
            "status": "error", "solved": False, "error": error, "result": None, "check": None, "diff": None,
            "duration_s": round(time.time() - started, 3)}


def _chroma_gone(job: Job) -> str | None:
    """Why the batch's Chroma server cannot be used now; None when it answers (or there is none)."""
    from wren.context.chroma import ping

    try:
        if job.chroma is not None:
            ping(job.chroma)
    except ConnectionError as exc:
        return str(exc)
    return None


def run_task(task: BatchTask, job: Job, stop: Stop) -> dict | None:
    """One task from clone to check: the line `results.jsonl` gets; None when the batch stopped before
    the task ended (it runs again next time). Never raises for the task's own faults."""
    if stop.signal is not None:
        return None
    started = time.time()
    folder = job.out / "tasks" / task.id
    record: dict[str, Any] = {"id": task.id, "worker": f"{socket.gethostname()}:{os.getpid()}",
                              "workspace": str(folder / "work"), "started": round(started, 3)}
    try:
        work = prepare_workspace(task, job.base, folder / "work")
    except ToolError as exc:
        return error_record(task, job, started, str(exc))
    if gone := _chroma_gone(job):
        return error_record(task, job, started, f"{gone}; the task did not start")
    answer = _wren_run(task, job, work, folder / "wren.log", stop)
    if answer is None or stop.signal is not None:
        return None
    if gone := _chroma_gone(job):  # its index and memory may be half there: run it again
        return error_record(task, job, started, f"{gone} by the end of the task, which ran without it; "
                                                "it runs again next time")
    result, code = answer["result"], answer["exit_code"]
    check = _check(task.check, work) if task.check and result else None
    status = result["status"] if result else "error"
    solved = check["passed"] if check else status == "success"
    error = (result.get("error") or {}).get("message") if result else \
        f"{'the worker running it' if answer.get('died') else 'wren run'} exited {code} without a result; " \
        f"see {folder / 'wren.log'}"
    if "pid" in answer:  # the process that ran the session
        record["worker"] = f"{socket.gethostname()}:{answer['pid']}"
    return {**record, "status": status, "solved": solved, "error": error, "result": result, "check": check,
            "diff": result.get("diff") if result else None, "model_loads": answer.get("model_loads"),
            "model_load_s": answer.get("model_load_s"), "duration_s": round(time.time() - started, 3)}


def read_results(results: Path) -> dict[str, dict]:
    """The latest record of each task in `results.jsonl`; a line cut by a crash is ignored."""
    found: dict[str, dict] = {}
    if results.is_file():
        for line in results.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                found[record["id"]] = record
            except (ValueError, KeyError, TypeError):
                continue
    return found


def finished_ids(results: Path) -> set[str]:
    """Ids of the tasks done: not those that ended in an error (a clone that failed, a run that
    crashed), which run again."""
    return {i for i, r in read_results(results).items() if r.get("status") != "error"}


def append(results: Path, record: dict) -> None:
    """One line, after a newline if a crash cut the last one."""
    with results.open("a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def _setup(args: argparse.Namespace, tasks: list[BatchTask]):
    """The executor and the Chroma server that the options name, checked before any task starts:
    ConfigError for a bad URL, an unreachable server or cluster, or a task the cluster cannot place."""
    from wren.cli.batch_exec import PoolExecutor, RayExecutor
    from wren.context.chroma import parse_url, ping, server_config
    from wren.core.config import load_config

    config = load_config(Path.cwd()).chroma
    chroma = parse_url(args.chroma, config.headers) if args.chroma else server_config(config)
    if chroma is not None:
        try:
            ping(chroma)
        except ConnectionError as exc:
            raise ConfigError(f"{exc}; start one with `chroma run --host HOST --port PORT`, or drop --chroma") \
                from None
    executor = RayExecutor.connect(args.ray, tasks) if args.ray is not None else PoolExecutor(args.workers)
    return executor, chroma


def run(args: argparse.Namespace) -> int:
    tasks_file, stdout = Path(args.tasks), sys.stdout  # the totals' (an executor may move sys.stdout)
    try:
        tasks = load_tasks(tasks_file)
        executor, chroma = _setup(args, tasks)
    except ConfigError as exc:
        sys.stderr.write(f"wren batch: {exc.message}\n")
        return ExitCode.USAGE
    try:
        return _run(args, tasks_file, tasks, executor, chroma, stdout)
    finally:
        executor.close()


def _run(args: argparse.Namespace, tasks_file: Path, tasks: list[BatchTask], executor, chroma,
         stdout: TextIO) -> int:
    from wren.cli.batch_index import build_shared_indexes
    from wren.cli.batch_report import Progress, summary, table

    # Absolute: each task's process runs in its own clone.
    out = (Path(args.out) if args.out else Path.cwd() / STATE_DIR / "batches" / tasks_file.stem).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"wren batch: --out {args.out or out}: cannot make that folder ({exc.strerror or exc})\n")
        return ExitCode.USAGE
    results = out / "results.jsonl"
    done = finished_ids(results)
    todo = [t for t in tasks if t.id not in done]
    job = Job(tasks_file.resolve().parent, out, chroma, die_with_parent=executor.remote)
    sys.stderr.write(f"wren batch: {len(todo)} task(s) to run, {len(tasks) - len(todo)} already done; "
                     f"{executor.where}; results in {results}\n")
    if chroma is not None:
        build_shared_indexes(todo, job, sys.stderr)
    stop, progress, records, started = Stop(), Progress(len(todo), sys.stderr), [], time.monotonic()
    # Ctrl+C, or SIGTERM (timeout, docker stop, CI cancellation): each running task is told to stop
    # (it kills its command and prints its result), no new one starts, and the results so far stay.
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.now(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for record in executor.results(todo, job, stop):  # as each task finishes, whichever executor
            if record is None:
                continue  # stopped before it ended: it runs again next time
            append(results, record)  # as each finishes: a crash loses none
            records.append(record)
            progress.add(record)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signal is not None:
        sys.stderr.write(f"\nwren batch: stopped ({signal.Signals(stop.signal).name}); {len(records)} result(s) "
                         f"kept in {results}; run the same command again to go on\n")
        return ExitCode.INTERRUPTED if stop.signal == signal.SIGINT else ExitCode.TERMINATED
    latest = read_results(results)
    overall = [latest[t.id] for t in tasks if t.id in latest]
    totals = summary(records, overall, time.monotonic() - started)
    print(json.dumps(totals) if args.output_format == "json" else table(records, totals), file=stdout)
    return ExitCode.FINISHED if totals["solved"] == len(tasks) else ExitCode.NOT_FINISHED
