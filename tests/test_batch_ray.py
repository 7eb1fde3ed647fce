"""`wren batch --ray`: the same tasks on a real Ray cluster on 127.0.0.1, started once for this module."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import alive, ancestor_running, clean_env, free_port, processes_with, wait_until, wren, write_script
from test_batch import FIX, NOTHING, results, tasks_file, without_sandbox

ray = pytest.importorskip("ray")
RAY = Path(sys.executable).with_name("ray")


@pytest.fixture(scope="module")
def ray_address():
    """A one-node cluster with 2 CPUs; `ray start --block` ends every process it started on SIGTERM
    (never `ray stop`, which stops every cluster on the machine)."""
    # Loopback only; and a token that some earlier local `ray.init()` left in ~/.ray would turn token
    # auth on for this cluster, which `wren batch` (RAY_AUTH_MODE from the same environment) must match.
    previous, os.environ["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE"), "disabled"
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--num-cpus", "2", "--include-dashboard=false",
                             "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", temp,
                             "--ray-client-server-port", str(free_port())],
                            env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    address = f"127.0.0.1:{port}"
    try:
        wait_until(lambda: head.poll() is not None or list(Path(temp).glob("session_*/sockets/raylet")))
        assert head.poll() is None, head.communicate()[1]
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        head.communicate(timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
        if previous is None:
            del os.environ["RAY_AUTH_MODE"]
        else:
            os.environ["RAY_AUTH_MODE"] = previous


def six_tasks(tmp_path: Path, calc_repo: Path) -> Path:
    check = "python -m pytest -q test_calc.py"
    fix, idle = write_script(tmp_path / "fix.json", FIX), write_script(tmp_path / "idle.json", NOTHING)
    return tasks_file(tmp_path, [
        {"id": "fix-1", "repo": "repo", "prompt": "fix add", "check": check, "model": fix, "approval": "auto"},
        {"id": "fix-2", "repo": str(calc_repo), "prompt": "fix add", "check": check, "model": fix, "approval": "auto",
         "num_cpus": 1},
        {"id": "idle", "repo": "repo", "prompt": "fix add", "check": check, "model": idle, "approval": "auto"},
        {"id": "no-check", "repo": "repo", "prompt": "look", "model": idle},
        {"id": "missing", "repo": "no/such/repo", "prompt": "x", "model": idle},
        {"id": "bad-commit", "repo": "repo", "commit": "0" * 40, "prompt": "x", "model": idle},
    ])


def outcomes(out: Path) -> dict[str, tuple]:
    return {i: (r["status"], r["solved"], r["check"] and r["check"]["passed"], r["diff"], r["error"])
            for i, r in results(out).items()}


def test_ray_runs_the_same_batch_as_the_pool(ray_address, calc_repo, tmp_path):
    tasks = six_tasks(tmp_path, calc_repo)
    pool = wren("batch", str(tasks), "--workers", "2", "--out", "pool", "--output-format", "json", cwd=tmp_path)
    on_ray = wren("batch", str(tasks), "--ray", ray_address, "--out", "ray", "--output-format", "json",
                  cwd=tmp_path, timeout=600)
    assert on_ray.code == pool.code == 1, on_ray.stderr
    assert "on Ray (1 node(s), 2 CPUs" in on_ray.stderr
    got, expected = outcomes(tmp_path / "ray"), outcomes(tmp_path / "pool")
    # Errors name the batch folder of their run; all else is the same.
    assert {i: o[:4] for i, o in got.items()} == {i: o[:4] for i, o in expected.items()}
    assert [got[i][1] for i in sorted(got)] == [False, True, True, False, False, True]
    assert got["fix-1"][1] and "+    return a + b" in got["fix-1"][3]
    assert "no/such/repo" in got["missing"][4] and "is not in" in got["bad-commit"][4]
    totals = {k: v for k, v in json.loads(on_ray.stdout).items() if k not in ("wall_s",)}
    assert totals == {k: v for k, v in json.loads(pool.stdout).items() if k not in ("wall_s",)}
    assert len((tmp_path / "ray" / "results.jsonl").read_text().splitlines()) == 6

    again = wren("batch", str(tasks), "--ray", ray_address, "--out", "ray", cwd=tmp_path, timeout=600)
    assert "2 task(s) to run, 4 already done" in again.stderr, again.stderr  # resume: only the errors again


def test_a_task_whose_worker_is_killed_runs_again_and_ends_once(ray_address, calc_repo, tmp_path):
    without_sandbox(calc_repo)  # its command reaches outside the workspace
    mark = tmp_path / "started-once"
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {
            "command": f"if [ -e {mark} ]; then echo again; else touch {mark} && sleep 86409; fi"}}]},
        {"content": "Done."}])
    tasks = tasks_file(tmp_path, [
        {"id": "slow", "repo": "repo", "prompt": "x", "model": slow, "approval": "auto", "check": f"test -e {mark}"},
        {"id": "quick", "repo": "repo", "prompt": "x", "model": write_script(tmp_path / "q.json", NOTHING)}])
    batch = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--ray", ray_address,
                              "--out", "out", "--output-format", "json"],
                             cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: processes_with(f"{mark} && sleep 86409") or batch.poll() is not None)
        assert batch.poll() is None, batch.communicate()
        # One: a shell forking `sleep` has a twin with its command line until the exec.
        # Read once: a twin may show again between two reads (it failed so once under load).
        found: list[int] = []

        def just_one() -> bool:
            found[:] = processes_with(f"{mark} && sleep 86409")
            return len(found) == 1

        wait_until(just_one)
        [command] = found
        runner = ancestor_running(command, b"wren.cli.batch_worker")  # the process running the session
        worker = ancestor_running(runner, b"ray::")
        # SIGKILL, as the OOM killer would, to the worker's whole group, as Ray's cleanup of a dead
        # worker then does (a runner in that group died before it could end its command).
        assert os.getpgid(worker) == worker  # Ray gives each worker a group of its own
        os.killpg(worker, signal.SIGKILL)
        out, err = batch.communicate(timeout=600)  # a hang guard
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 0, err
    assert json.loads(out)["solved"] == 2
    lines = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == ["quick", "slow"]  # the killed task ended once, on a new worker
    [slow_record] = [r for r in lines if r["id"] == "slow"]
    assert slow_record["solved"] and not slow_record["worker"].endswith(f":{runner}")
    wait_until(lambda: not alive(runner))  # it died with its Ray worker
    wait_until(lambda: not processes_with("sleep 86409"))  # the first try's command did not outlive its worker


def test_an_unreachable_ray_address_is_a_usage_error(tmp_path, calc_repo):
    tasks = tasks_file(tmp_path, [{"id": "a", "repo": "repo", "prompt": "x",
                                   "model": write_script(tmp_path / "i.json", NOTHING)}])
    run = wren("batch", str(tasks), "--ray", f"127.0.0.1:{free_port()}", "--out", "out", cwd=tmp_path)
    assert run.code == 2 and "no Ray cluster answers there" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()  # refused before any task started


def test_a_task_no_node_can_place_is_a_usage_error(ray_address, tmp_path, calc_repo):
    tasks = tasks_file(tmp_path, [{"id": "big", "repo": "repo", "prompt": "x", "num_gpus": 1,
                                   "model": write_script(tmp_path / "i.json", NOTHING)}])
    run = wren("batch", str(tasks), "--ray", ray_address, "--out", "out", cwd=tmp_path, timeout=300)
    assert run.code == 2 and "task big asks for 1 CPUs and 1 GPUs" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


def test_ctrl_c_cancels_the_ray_tasks_and_keeps_what_finished(ray_address, calc_repo, tmp_path):
    without_sandbox(calc_repo)  # its command reaches outside the workspace
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86411"}}]}, {"content": "never"}])
    tasks = tasks_file(tmp_path, [
        {"id": "quick", "repo": "repo", "prompt": "x", "model": write_script(tmp_path / "q.json", NOTHING)},
        {"id": "slow", "repo": "repo", "prompt": "wait", "model": slow, "approval": "auto"}])
    batch = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--ray", ray_address,
                              "--out", "out"], cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (processes_with("86411") and (tmp_path / "out" / "results.jsonl").is_file())
                   or batch.poll() is not None)
        assert batch.poll() is None, batch.communicate()
        batch.send_signal(signal.SIGINT)
        _, err = batch.communicate(timeout=300)  # a hang guard
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 130, err
    assert "stopped (SIGINT)" in err and "1 result(s) kept" in err
    wait_until(lambda: not processes_with("86411"))  # the cancelled task's command ended with it
    assert set(results(tmp_path / "out")) == {"quick"}


@pytest.mark.slow
def test_a_ray_task_on_the_real_local_model(ray_address, calc_repo, tmp_path):
    tasks = tasks_file(tmp_path, [{"id": "smol", "repo": str(calc_repo), "prompt": "Read calc.py.",
                                   "model": "local:smollm2", "approval": "read-only", "max_steps": 2}])
    run = wren("batch", str(tasks), "--ray", ray_address, "--out", "out", cwd=tmp_path, timeout=900)
    assert run.code in (0, 1), run.stderr
    got = results(tmp_path / "out")["smol"]
    assert got["result"] is not None, got  # llama.cpp ran in the Ray worker's `wren run` and reported
    assert got["result"]["usage"]["prompt_tokens"] > 100 and got["result"]["steps"] >= 1
