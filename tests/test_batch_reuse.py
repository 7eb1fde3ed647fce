"""`wren batch` workers: each runs its tasks one after another and loads a local model once for all of
them; a worker that dies mid-task costs that task alone. On scripted models and on the real SmolLM2."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (alive, ancestor_running, clean_env, processes_with, smollm2_path, wait_until, wren,
                      write_script)
from test_batch import NOTHING, results, tasks_file, without_sandbox

TOOL = {"type": "function", "function": {"name": "read_file", "description": "Read a file",
                                         "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                                                        "required": ["path"]}}}


def test_a_worker_runs_its_tasks_one_after_another(calc_repo, tmp_path):
    tasks = tasks_file(tmp_path, [
        {"id": f"t{i}", "repo": "repo", "prompt": "x", "model": write_script(tmp_path / f"{i}.json", [
            {"tool_calls": [{"name": "write_file", "arguments": {"path": f"made-{i}.txt", "content": "x\n"}}]},
            {"content": f"Task {i} done."}]), "approval": "auto"} for i in range(3)])
    run = wren("batch", str(tasks), "--workers", "1", "--out", "out", "--output-format", "json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    got = results(tmp_path / "out")
    assert len({r["worker"] for r in got.values()}) == 1  # one process ran all three sessions
    for i in range(3):  # each in its own workspace, with its own result
        record, work = got[f"t{i}"], tmp_path / "out" / "tasks" / f"t{i}" / "work"
        assert record["result"]["summary"] == f"Task {i} done." and record["model_loads"] == 0
        assert sorted(p.name for p in work.glob("made-*")) == [f"made-{i}.txt"]
        assert "made-" in record["diff"] and f"made-{i}.txt" in record["diff"]
    pid = int(got["t0"]["worker"].rsplit(":", 1)[1])
    wait_until(lambda: not alive(pid))  # the batch ended its worker


def test_a_worker_that_dies_mid_task_costs_that_task_alone(calc_repo, tmp_path):
    without_sandbox(calc_repo)  # its command reaches outside the workspace
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86413"}}]}, {"content": "never"}])
    tasks = tasks_file(tmp_path, [
        {"id": "slow", "repo": "repo", "prompt": "wait", "model": slow, "approval": "auto"},
        {"id": "quick", "repo": "repo", "prompt": "x", "model": write_script(tmp_path / "q.json", NOTHING)}])
    batch = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--workers", "1",
                              "--out", "out", "--output-format", "json"], cwd=tmp_path, env=clean_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(processes_with("86413", below=batch.pid)) == 1 or batch.poll() is not None)
        assert batch.poll() is None, batch.communicate()
        [command] = processes_with("86413", below=batch.pid)
        worker = ancestor_running(command, b"wren.cli.batch_worker")
        os.kill(worker, signal.SIGKILL)  # as the OOM killer would
        out, err = batch.communicate(timeout=300)  # a hang guard
    finally:
        if batch.poll() is None:
            batch.kill()
        for pid in processes_with("86413"):  # the dead worker's command, orphaned as `wren run`'s would be
            os.kill(pid, signal.SIGKILL)
    assert batch.returncode == 1, err  # one task unsolved
    assert json.loads(out)["errors"] == 1
    got = results(tmp_path / "out")
    assert got["slow"]["status"] == "error" and "the worker running it exited -9" in got["slow"]["error"]
    assert got["quick"]["status"] == "success" and not got["quick"]["worker"].endswith(f":{worker}")  # a new one



def test_a_worker_whose_batch_is_killed_stops_its_run_and_command(calc_repo, tmp_path):
    """The local pool starts its workers without PR_SET_PDEATHSIG: a batch SIGKILLed mid-task leaves the
    worker to notice the loss of its parent itself, stop its run as on SIGTERM, and end its command."""
    without_sandbox(calc_repo)
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86417"}}]}, {"content": "never"}])
    tasks = tasks_file(tmp_path, [{"id": "slow", "repo": "repo", "prompt": "wait", "model": slow, "approval": "auto"}])
    batch = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--workers", "1",
                              "--out", "out", "--output-format", "json"], cwd=tmp_path, env=clean_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(processes_with("86417", below=batch.pid)) == 1 or batch.poll() is not None)
        assert batch.poll() is None
        [command] = processes_with("86417", below=batch.pid)
        worker = ancestor_running(command, b"wren.cli.batch_worker")
        batch.kill()  # SIGKILL: the batch can tell its worker nothing
        batch.wait()
        wait_until(lambda: not alive(worker))
        assert not alive(command)  # the run ended its command before the worker ended
    finally:
        for pid in processes_with("86417"):
            os.kill(pid, signal.SIGKILL)
    log = (tmp_path / "out" / "tasks" / "slow" / "wren.log").read_text()
    assert "terminated (SIGTERM); stopping" in log  # stopped as `wren run` stops, not forced


HUNG_WORKER = """
import signal, subprocess, sys, time
import wren.cli.batch_worker as worker
worker.ORPHAN_GRACE_S = 0.5
def hung_run(request, idle_err):  # a run that does not stop: SIGTERM ignored, its command running
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen(["sleep", "86419"], start_new_session=True)
    time.sleep(86419)
worker._serve = hung_run
sys.exit(worker.main())
"""
PARENT = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE, stderr=open(sys.argv[2], "w"))
worker.stdin.write(b"{}\\n")
worker.stdin.flush()
worker.wait()
"""


def test_an_orphaned_worker_whose_run_does_not_stop_is_ended(tmp_path):
    """The forced end: where the run hung goes to the workers' log, and the run's command is killed."""
    log = tmp_path / "workers.log"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, HUNG_WORKER, str(log)], env=clean_env())
    try:
        wait_until(lambda: len(processes_with("sleep\x0086419", below=parent.pid)) == 1 or parent.poll() is not None)
        assert parent.poll() is None
        [command] = processes_with("sleep\x0086419", below=parent.pid)
        worker = ancestor_running(command, b"wren.cli.batch_worker")
        parent.kill()
        parent.wait()
        wait_until(lambda: not alive(worker) and not alive(command))
    finally:
        for pid in processes_with("sleep\x0086419"):
            os.kill(pid, signal.SIGKILL)
    said = log.read_text()
    assert "orphaned and still running after 0.5s" in said and "in hung_run" in said, said

@pytest.mark.slow
def test_local_backends_on_one_file_share_one_loaded_model():
    from wren.core.backend import ignore
    from wren.core.messages import Message
    from wren.local_models.backend import LocalBackend, model_loads

    before = model_loads()[0]
    first = LocalBackend(smollm2_path(), n_ctx=1536)  # settings no other test uses: the load is this test's
    second = LocalBackend(smollm2_path(), n_ctx=1536)
    assert second.llm is first.llm and model_loads()[0] == before + 1
    other = LocalBackend(smollm2_path(), n_ctx=1024)  # other settings: a model of its own
    assert other.llm is not first.llm and model_loads()[0] == before + 2

    system = Message(role="system", content="You read files.")
    first.complete([system, Message(role="user", content="Read calc.py.")], [TOOL], ignore)
    prompt = [system, Message(role="user", content="What is in README.md? Read it.")]
    tokens = second.prompt_tokens(prompt, [TOOL])[0]
    evaluated = list(first.llm._input_ids[: first.llm.n_tokens])  # the first session's prompt and reply
    common = first.llm.longest_token_prefix(evaluated, tokens)
    assert 0 < common < len(tokens)
    reply = second.complete(prompt, [TOOL], ignore)
    # The second session reused the prefix the two prompts share, and not a token of the first's past it.
    assert reply.usage.cached_tokens == common
    assert list(first.llm._input_ids[: len(tokens)]) == tokens
    assert (first._steps, second._steps) == (1, 1)  # each session's own state
    assert model_loads()[0] == before + 2


def _smol_tasks(tmp_path: Path, calc_repo: Path) -> Path:
    return tasks_file(tmp_path, [{"id": f"smol-{i}", "repo": str(calc_repo), "prompt": "Read calc.py.",
                                  "model": "local:smollm2", "approval": "read-only", "max_steps": 1}
                                 for i in range(3)])


@pytest.mark.slow
def test_a_worker_loads_the_local_model_once_for_its_tasks(calc_repo, tmp_path):
    tasks = _smol_tasks(tmp_path, calc_repo)
    run = wren("batch", str(tasks), "--out", "one", "--workers", "1", cwd=tmp_path, timeout=900)
    assert run.code in (0, 1), run.stderr
    got = sorted(results(tmp_path / "one").values(), key=lambda r: r["started"])
    assert len(got) == 3 and all(r["result"] is not None for r in got), got  # each ran and reported
    assert len({r["worker"] for r in got}) == 1
    assert [r["model_loads"] for r in got] == [1, 0, 0]
    assert got[0]["model_load_s"] > 0 and got[1]["model_load_s"] == got[2]["model_load_s"] == 0

    run = wren("batch", str(tasks), "--out", "two", "--workers", "2", cwd=tmp_path, timeout=900)
    assert run.code in (0, 1), run.stderr
    got = list(results(tmp_path / "two").values())
    assert len(got) == 3 and all(r["result"] is not None for r in got), got
    workers = {r["worker"] for r in got}
    assert len(workers) <= 2 and sum(r["model_loads"] for r in got) == len(workers)  # once in each worker
