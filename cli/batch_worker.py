"""The worker processes of `wren batch`: each runs tasks one after another, each task as `wren run -
--output-format json --include-diff` would in a process of its own, so that what a session loads
once (a local model's weights above all: local_models/backend.py keeps them for the process) serves
every task of the worker instead of being loaded again by each.

One worker per slot of the local pool, one per Ray worker process; a worker is reused only by tasks
whose environment (rate-limit folder, Chroma server, GPUs) is the one it started with. The protocol
is one JSON object a line. The batch writes a request on the worker's stdin:
`{"args": [wren run options], "prompt": TEXT, "cwd": WORKSPACE, "log": PATH}`; when the task ends the
worker answers on its stdout: `{"result": the run's JSON result or null, "exit_code": N,
"model_loads": loads of this task (0: the model was already loaded), "model_load_s": SECONDS,
"pid": PID}`. A signal to the worker during a task is what it is to `wren run` (SIGTERM or SIGINT:
the run stops and still answers); between tasks it ends the worker, as does the end of its stdin.
A worker that dies mid-task answers nothing: its task ends in an error and the next one gets a new
worker. A worker whose parent dies (a Ray worker killed, a batch SIGKILLed) stops too: see
`_watch_parent`.
"""
from __future__ import annotations

import ctypes
import faulthandler
import io
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

READ_SLICE_S = 0.5  # see Worker.run
PARENT_POLL_S = 0.5  # how often a worker looks whether its parent is still there (see _watch_parent)
ORPHAN_GRACE_S = 60.0  # from the SIGTERM of an orphaned worker to its forced end: a run stops in seconds


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


# ---- the batch's side ---------------------------------------------------------------------------

class Worker:
    """A worker process, seen from the process that sends it tasks (one at a time)."""

    def __init__(self, env: dict[str, str], die_with_parent: bool, log: Path) -> None:
        self.key = _key(env, die_with_parent)
        extra: dict[str, Any] = {"preexec_fn": _die_with_parent} if die_with_parent else {}
        with log.open("a", encoding="utf-8") as err:  # what the worker says outside its tasks
            # -P: no folder of the batch's (nor of a task's, once the worker moves there) shadows a module.
            # process_group=0: signals come from the batch alone, once. A terminal's Ctrl+C reaches its
            # whole foreground group (the worker, reached twice, would quit at once and leave its command
            # running), and Ray SIGKILLs a dead worker's whole group (its raylet logs "Per-worker process
            # group cleanup is ENABLED", 2.60), which would end this one before PR_SET_PDEATHSIG's SIGTERM
            # had it end its command.
            self.proc = subprocess.Popen([sys.executable, "-P", "-m", "wren.cli.batch_worker"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                         process_group=0, **extra)

    def run(self, request: dict) -> dict | None:
        """Send one task and wait for its answer; None when the worker died first (its exit status is
        then in proc.returncode). Waits in short slices: Ray delivers a cancel to the thread running the
        task as an exception between two Python steps, which a wait without a timeout would never reach."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.proc.wait()
            return None
        fd, got = self.proc.stdout.fileno(), b""
        while not got.endswith(b"\n"):
            if not select.select([fd], [], [], READ_SLICE_S)[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the worker is gone
                self.proc.wait()
                return None
            got += chunk
        return json.loads(got)

    def stop(self) -> None:
        """End the worker now, even mid-task: SIGTERM stops its run as it stops `wren run`; its answer
        is not read (a closed pipe ends a worker that is still writing one)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.close()

    def close(self) -> None:
        """End an idle worker (the end of its stdin) and wait for it."""
        for pipe in (self.proc.stdout, self.proc.stdin):
            try:
                if pipe is not None:
                    pipe.close()
            except BrokenPipeError:
                pass
        self.proc.wait()


def _key(env: dict[str, str], die_with_parent: bool) -> tuple:
    return tuple(sorted(env.items())), die_with_parent


class Workers:
    """The idle workers of this process, reused by the next task started with the same environment."""

    def __init__(self) -> None:
        self._idle: list[Worker] = []
        self._lock = threading.Lock()

    def take(self, env: dict[str, str], die_with_parent: bool, log: Path) -> Worker:
        """An idle worker started with this environment, else a new one (its stderr appended to `log`)."""
        key = _key(env, die_with_parent)
        with self._lock:
            for worker in [w for w in self._idle if w.proc.poll() is not None]:  # died while idle
                self._idle.remove(worker)
                worker.close()
            for worker in self._idle:
                if worker.key == key:
                    self._idle.remove(worker)
                    return worker
        return Worker(env, die_with_parent, log)

    def give_back(self, worker: Worker) -> None:
        """After a task that ended with an answer: the worker waits for the next one."""
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        """End every idle worker (at the end of a batch)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


WORKERS = Workers()  # one pool per process: the batch's, or a Ray worker process's


# ---- the worker's side --------------------------------------------------------------------------

def _loads() -> tuple[int, float]:
    """Model loads of this process so far (see local_models.backend.model_loads); none while no local
    model was ever used (the module not even imported)."""
    backend = sys.modules.get("wren.local_models.backend")
    return backend.model_loads() if backend is not None else (0, 0.0)


def _run(request: dict, out: io.StringIO, idle_err: int) -> int:
    """`wren run` with the request's options in its workspace: the prompt on stdin, stdout into `out`,
    stderr (fd 2 and fd 1 too, for the commands and libraries that write there) into its log. Its exit
    code. Afterwards fds 1 and 2 are `idle_err` again."""
    from wren.cli.main import main as wren

    saved = sys.stdin, sys.stdout
    with open(request["log"], "w", encoding="utf-8") as log:
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdin, sys.stdout = io.StringIO(request["prompt"]), out
        try:
            os.chdir(request["cwd"])
            return wren(["run", "-", *request["args"]])
        except SystemExit as exc:  # the options' parser
            return exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - a bug: its traceback goes where `wren run` would print it
            traceback.print_exc()
            return 1
        finally:
            sys.stderr.flush()
            sys.stdin, sys.stdout = saved
            os.dup2(idle_err, 1)
            os.dup2(idle_err, 2)


def _serve(request: dict, idle_err: int) -> dict:
    """One task: its answer (see the module's docstring)."""
    from wren.context.chroma import forget_clients
    from wren.context.shared_index import close_all

    before, out = _loads(), io.StringIO()
    code = _run(request, out, idle_err)
    try:
        close_all()  # the task's index and stores: nothing of them outlives the task
        forget_clients()
    except Exception:  # noqa: BLE001 - the task's outcome stands; the worker's log says what failed
        traceback.print_exc()
    loads, seconds = (now - then for now, then in zip(_loads(), before))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    return {"result": result, "exit_code": code, "model_loads": loads, "model_load_s": round(seconds, 3),
            "pid": os.getpid()}


def _watch_parent(idle_err: int) -> None:
    """In a daemon thread of the worker: once the process that started it is gone (a Ray worker killed,
    a batch SIGKILLed), no one reads the answer and the task may already run again elsewhere, so the
    worker stops as on the batch's SIGTERM. PR_SET_PDEATHSIG does the same on Linux when asked; this
    also covers macOS, a parent started without it, and a signal that was lost. A run that has not
    stopped ORPHAN_GRACE_S later is ended: its threads' stacks go to the workers' log (where it hung),
    the command groups of its children are SIGKILLed (tools/process.py gives each command a group of
    its own), and the worker exits 1."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_S)
    os.write(idle_err, f"wren batch worker {os.getpid()}: orphaned and still running after "
                       f"{ORPHAN_GRACE_S:g}s; its threads:\n".encode())
    faulthandler.dump_traceback(file=idle_err, all_threads=True)
    for child in _children():
        try:
            if os.getpgid(child) != os.getpgid(0):
                os.killpg(os.getpgid(child), signal.SIGKILL)
        except OSError:
            continue  # gone meanwhile
    os._exit(1)


def _children() -> list[int]:
    """This process's children (Linux's /proc/PID/task/TID/children; elsewhere none are found)."""
    found: list[int] = []
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            found += [int(pid) for pid in listing.read_text().split()]
        except OSError:
            continue
    return found


def main() -> int:
    """Serve requests until stdin ends. The protocol's pipes move off fds 0 and 1 (to descriptors no
    child inherits): a task's commands get /dev/null for stdin, and what anything writes on fd 1 goes
    to the log, never into an answer."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    idle_err = os.dup(2)
    threading.Thread(target=_watch_parent, args=(idle_err,), name="wren-parent-watch", daemon=True).start()
    try:
        for line in requests:
            answers.write(json.dumps(_serve(json.loads(line), idle_err)) + "\n")
            answers.flush()
    except KeyboardInterrupt:  # Ctrl+C between tasks, or a second one during a task
        return 130
    except BrokenPipeError:  # the batch went away: the answer it will never read is dropped
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, answers.fileno())
        os.close(null)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
