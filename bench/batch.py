"""`wren batch` executors and the shared index: the same scripted tasks on 1 and 2 local workers and
on a local Ray cluster, then time to first result with one index on a Chroma server versus one per task.

Prints two Markdown tables. Throughput: tasks per minute (wall time of the whole `wren batch`,
connecting to Ray included, starting the cluster not), and the executor's overhead per task:
the time a worker slot spent on a task outside the agent (clone, process start, check, dispatch),
(slots x wall - sum of the agents' own duration_s) / tasks. The tasks are scripted (a fix, then a
check), so the agent itself takes a fraction of a second and the overhead is most of the time.

Shared index: tasks that first search the code, on a copy of Wren's own agent/, context/ and
tools/ sources. "server" runs `wren batch --chroma URL`, which builds the commit's index on the
server once before the tasks; "per task" runs without it, each task building a full index in its
own clone (`wren index` as its first step, as a task that needs semantic search must). Time to
first result: from the batch's start until results.jsonl has its first line.

Local model reuse: the same SmolLM2 tasks (read calc.py, one step) as one `wren batch --workers 1`,
whose worker loads the model once for all of them, and each as a `wren run` process of its own (a
fresh clone, then the run), which loads it for every task, as each batch task did before the
workers. Per task: wall time, the agent's own time (the result's duration_s) and the rest (process
start, imports, model load, clone); the model loads and their seconds from the batch's records.

    python bench/batch.py [--tasks 8] [--index-tasks 4] [--local-tasks 3] [--only throughput|index|local]
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
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SOURCE = Path(__file__).resolve().parent.parent
CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FIX = [{"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
       {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                          "new": "return a + b"}}]},
       {"content": "Fixed add."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_repo(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.email=b@example.com", "-c", "user.name=b",
                                               "commit", "-qm", "bench"]):
        subprocess.run(["git", *cmd], cwd=folder, check=True, capture_output=True)
    return folder


def write_tasks(tmp: Path, name: str, n: int, repo: Path, turns: list[dict], check: str | None) -> Path:
    script = tmp / f"{name}.json"
    script.write_text(json.dumps({"turns": turns}))
    path = tmp / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "repo": str(repo), "prompt": "go", "check": check,
                                        "model": f"scripted:{script}", "approval": "auto"}) + "\n"
                            for i in range(n)))
    return path


def batch(tasks: Path, out: Path, *options: str) -> tuple[float, float, list[dict]]:
    """(wall seconds, seconds to the first results line, the records) of one `wren batch`."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "wren"), "batch", str(tasks), "--out", str(out), "--output-format", "json",
                             *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results, first = out / "results.jsonl", None
    while proc.poll() is None:
        if first is None and results.is_file() and results.stat().st_size:
            first = time.perf_counter() - started
        time.sleep(0.02)
    wall = time.perf_counter() - started
    stdout, stderr = proc.communicate()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"wren batch {' '.join(options)} exited {proc.returncode}:\n{stderr}")
    records = [json.loads(line) for line in results.read_text().splitlines()]
    if any(r["status"] == "error" for r in records):
        raise SystemExit(f"wren batch {' '.join(options)}: a task ended in an error: {records}")
    return wall, first or wall, records


class Background:
    """A server process (Ray's head, Chroma) for the bench, ended by its own pid."""

    def __init__(self, cmd: list[str], ready) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not ready():
            if self.proc.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited {self.proc.returncode}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)


def ray_head(tmp: Path) -> tuple[Background, str, str]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback; the head and `wren batch` alike
    port, temp = free_port(), tempfile.mkdtemp(prefix="ray", dir="/tmp")
    head = Background([str(BIN / "ray"), "start", "--head", "--block", "--num-cpus", "2", "--include-dashboard=false",
                       "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", temp,
                       "--ray-client-server-port", str(free_port())],
                      lambda: any(Path(temp).glob("session_*/sockets/raylet")))
    return head, f"127.0.0.1:{port}", temp


def chroma_server(tmp: Path) -> tuple[Background, str]:
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            return True
        except OSError:
            return False

    return Background([str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1",
                       "--port", str(port)], ready), url


def throughput(tmp: Path, n: int) -> list[str]:
    repo = git_repo(tmp / "calc", {"calc.py": CALC, "test_calc.py": TEST})
    tasks = write_tasks(tmp, "fix", n, repo, FIX, "python -m pytest -q test_calc.py")
    head, address, temp = ray_head(tmp)
    try:
        runs = [("pool, --workers 1", 1, ("--workers", "1")), ("pool, --workers 2", 2, ("--workers", "2")),
                ("Ray, local cluster (2 CPUs)", 2, ("--ray", address))]
        rows = []
        for name, slots, options in runs:
            wall, _, records = batch(tasks, tmp / f"out-{slots}-{options[0]}", *options)
            agent = sum(r["result"]["duration_s"] for r in records)
            solved = sum(r["solved"] for r in records)
            rows.append(f"| {name} | {n} | {solved} | {wall:.1f} | {n / wall * 60:.1f} | "
                        f"{(slots * wall - agent) / n:.2f} | {agent / n:.2f} |")
    finally:
        head.stop()
        shutil.rmtree(temp, ignore_errors=True)
    return ["| executor | tasks | solved | wall s | tasks/min | overhead s/task | agent s/task |",
            "|---|---:|---:|---:|---:|---:|---:|", *rows]


def shared_index(tmp: Path, n: int) -> list[str]:
    files = {str(p.relative_to(SOURCE)): p.read_text() for part in ("agent", "context", "tools")
             for p in sorted((SOURCE / part).rglob("*.py"))}
    files["wren.toml"] = '[sandbox]\nmode = "off"\n'  # the per-task `wren index` writes the user's model cache
    repo = git_repo(tmp / "code", files)
    search = [{"tool_calls": [{"name": "search_code", "arguments": {"query": "compact the context"}}]},
              {"content": "Found it."}]
    own = [{"tool_calls": [{"name": "shell", "arguments": {"command": f"{BIN / 'wren'} index --quiet",
                                                                       "timeout_s": 1800}}]}, *search]
    server, url = chroma_server(tmp)
    try:
        shared = batch(write_tasks(tmp, "shared", n, repo, search, None), tmp / "out-shared", "--chroma", url)
    finally:
        server.stop()
    each = batch(write_tasks(tmp, "each", n, repo, own, None), tmp / "out-each")
    rows = [f"| {name} | {n} | {first:.1f} | {wall:.1f} |"
            for name, (wall, first, _) in (("one index on the Chroma server", shared), ("one index per task", each))]
    return [f"{len(files)} files; --workers 2", "",
            "| index | tasks | first result s | wall s |", "|---|---:|---:|---:|", *rows]


def local_reuse(tmp: Path, n: int) -> list[str]:
    repo = git_repo(tmp / "smol", {"calc.py": CALC, "test_calc.py": TEST})
    options = {"model": "local:smollm2", "approval": "read-only", "max_steps": 1}
    tasks = tmp / "smol.jsonl"
    tasks.write_text("".join(json.dumps({"id": f"s{i}", "repo": str(repo), "prompt": "Read calc.py.", **options})
                             + "\n" for i in range(n)))
    wall, _, records = batch(tasks, tmp / "out-smol", "--workers", "1")
    agent = sum(r["result"]["duration_s"] for r in records)
    loads, load_s = sum(r["model_loads"] for r in records), sum(r["model_load_s"] for r in records)
    rows = [f"| one worker, model reused | {n} | {loads} | {load_s / n:.2f} | {wall / n:.2f} | {agent / n:.2f} | "
            f"{(wall - agent) / n:.2f} |"]
    own_wall = own_agent = 0.0
    for i in range(n):  # as each task ran before the workers: a clone, then `wren run` in a process of its own
        started = time.perf_counter()
        work = tmp / f"own-{i}"
        subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True, capture_output=True)
        run = subprocess.run([str(BIN / "wren"), "run", "-", "--output-format", "json", "--model", options["model"],
                              "--approval", options["approval"], "--max-steps", "1"], input="Read calc.py.",
                             cwd=work, capture_output=True, text=True)
        own_wall += time.perf_counter() - started
        own_agent += json.loads(run.stdout.splitlines()[-1])["duration_s"]
    rows.append(f"| a process per task, model loaded per task | {n} | {n} | - | {own_wall / n:.2f} | "
                f"{own_agent / n:.2f} | {(own_wall - own_agent) / n:.2f} |")
    return ["| SmolLM2 tasks | tasks | model loads | load s/task | wall s/task | agent s/task | rest s/task |",
            "|---|---:|---:|---:|---:|---:|---:|", *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8, help="scripted tasks per executor")
    parser.add_argument("--index-tasks", type=int, default=4, help="tasks in each shared-index run")
    parser.add_argument("--local-tasks", type=int, default=3, help="SmolLM2 tasks in each model-reuse run")
    parser.add_argument("--only", choices=("throughput", "index", "local"), help="one table alone")
    args = parser.parse_args()
    tables = {"throughput": lambda: throughput(tmp, args.tasks), "index": lambda: shared_index(tmp, args.index_tasks),
              "local": lambda: local_reuse(tmp, args.local_tasks)}
    tmp = Path(tempfile.mkdtemp(prefix="wren-bench-batch-"))
    try:
        print("\n\n".join("\n".join(make()) for name, make in tables.items() if args.only in (None, name)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
