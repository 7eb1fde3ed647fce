"""`wren batch`: tasks in fresh clones of real git repositories, several at once, checked, resumable."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CALC, git, wren, write_script

FIX = [{"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                           "new": "return a + b"}}]},
       {"content": "Fixed add."}]
NOTHING = [{"content": "I looked and changed nothing."}]


def tasks_file(tmp_path: Path, tasks: list[dict]) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def without_sandbox(repo: Path) -> None:
    """A commit turning the sandbox off, for tasks whose commands reach outside their workspace."""
    (repo / "wren.toml").write_text('[sandbox]\nmode = "off"\n')
    git(repo, "add", "wren.toml")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "no sandbox")


def results(out: Path) -> dict[str, dict]:
    """The latest record of each task; a line cut by a crash is skipped."""
    found = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        found[record["id"]] = record
    return found


def test_a_batch_runs_checks_and_resumes(calc_repo, tmp_path):
    head = git(calc_repo, "rev-parse", "HEAD").strip()
    (calc_repo / "calc.py").write_text("uncommitted edit\n")  # the user's checkout: never used, never touched
    check = "python -m pytest -q test_calc.py"
    tasks = tasks_file(tmp_path, [
        {"id": "fix", "repo": str(calc_repo), "commit": head, "prompt": "fix add", "check": check,
         "model": write_script(tmp_path / "fix.json", FIX), "approval": "auto"},
        {"id": "idle", "repo": "repo", "prompt": "fix add", "check": check,  # relative to the tasks file
         "model": write_script(tmp_path / "idle.json", NOTHING), "approval": "auto"},
        {"id": "missing", "repo": "no/such/repo", "prompt": "fix add", "model": "scripted:x.json"},
    ])
    out = tmp_path / "out"
    run = wren("batch", str(tasks), "--workers", "2", "--out", str(out), "--output-format", "json", cwd=tmp_path)
    assert run.code == 1, run.stderr  # not every task was solved
    totals = json.loads(run.stdout)
    assert (totals["solved"], totals["failed"], totals["errors"], totals["skipped"]) == (1, 1, 1, 0)
    got = results(out)
    assert got["fix"]["solved"] and got["fix"]["check"]["passed"] and got["fix"]["status"] == "success"
    assert "+    return a + b" in got["fix"]["diff"]
    assert not got["idle"]["solved"] and got["idle"]["check"]["exit_code"] != 0 and got["idle"]["status"] == "success"
    assert got["missing"]["status"] == "error" and "no/such/repo" in got["missing"]["error"]
    assert (calc_repo / "calc.py").read_text() == "uncommitted edit\n"
    assert (out / "tasks" / "fix" / "work" / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert "wren batch: [" in run.stderr and "3/3" in run.stderr  # the progress line

    # Run again: finished tasks are skipped, the one that ended in an error runs again (its repo fixed).
    lines = tasks.read_text().splitlines()
    tasks.write_text("\n".join(lines[:2] + [lines[2].replace("no/such/repo", "repo")]) + "\n")
    with (out / "results.jsonl").open("a") as fh:
        fh.write('{"id": "cut by a cra')  # a crash mid-line: ignored, and the next line starts on its own
    again = wren("batch", str(tasks), "--out", str(out), "--output-format", "json", cwd=tmp_path)
    assert "1 task(s) to run, 2 already done" in again.stderr, again.stderr
    assert again.code == 1, again.stderr  # "idle" is still unsolved
    totals = json.loads(again.stdout)
    assert (totals["tasks"], totals["ran"], totals["solved"], totals["failed"], totals["errors"]) == (3, 1, 1, 1, 1)
    # Its scripted model does not exist; a relative scripted: path is relative to the tasks file.
    assert f"cannot read scripted model file {tmp_path / 'x.json'}" in results(out)["missing"]["error"]


def test_stopping_a_batch_stops_its_tasks_and_keeps_what_finished(calc_repo, tmp_path):
    import signal
    import subprocess
    import sys

    from conftest import clean_env, processes_with, wait_until

    without_sandbox(calc_repo)  # its command reaches outside the workspace
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86407"}}]}, {"content": "never"}])
    tasks = tasks_file(tmp_path, [
        {"id": "quick", "repo": "repo", "prompt": "x", "model": write_script(tmp_path / "q.json", NOTHING)},
        {"id": "slow", "repo": "repo", "prompt": "wait", "model": slow, "approval": "auto"}])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--out", "out"],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: processes_with("86407", below=proc.pid) or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    wait_until(lambda: (out / "results.jsonl").is_file())  # "quick" has finished
    proc.send_signal(signal.SIGTERM)  # to the batch alone, as `timeout` or `docker stop` do
    _, err = proc.communicate(timeout=120)  # a hang guard
    assert proc.returncode == 143, err
    assert "stopped (SIGTERM)" in err and "1 result(s) kept" in err
    wait_until(lambda: not processes_with("86407"))  # the task's command did not outlive the batch
    assert set(results(out)) == {"quick"}  # the stopped task runs again next time


def test_ctrl_c_in_the_terminal_stops_a_batch_once(calc_repo, tmp_path):
    """A terminal's Ctrl+C reaches its whole foreground process group: the batch alone must get it,
    and pass it on once (a worker reached twice would quit at once and leave its command running)."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import clean_env, processes_with, wait_until

    without_sandbox(calc_repo)  # its command reaches outside the workspace
    slow = write_script(tmp_path / "slow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86411"}}]}, {"content": "never"}])
    tasks = tasks_file(tmp_path, [{"id": "slow", "repo": "repo", "prompt": "wait", "model": slow,
                                   "approval": "auto"}])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "wren.cli.main", "batch", str(tasks), "--out", "out"],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group, as a shell's foreground job
    try:
        wait_until(lambda: processes_with("86411", below=proc.pid) or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl+C
        _, err = proc.communicate(timeout=120)  # a hang guard
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "stopped (SIGINT)" in err and "quit at once" not in (out / "workers.log").read_text()
    wait_until(lambda: not processes_with("86411"))  # the task's command did not outlive the batch


def test_out_inside_a_plain_task_folder_is_not_copied_into_itself(tmp_path):
    """A folder that is not a repository is copied for its task; with --out inside it, copytree copied the
    copy into itself 497 levels deep and ended in a RecursionError traceback."""
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "calc.py").write_text(CALC)
    model = write_script(folder / "fix.json", FIX)
    tasks = tasks_file(folder, [{"id": "self", "repo": ".", "prompt": "fix add", "model": model,
                                 "approval": "auto-edit"}])
    run = wren("batch", str(tasks), "--workers", "1", "--out", str(folder / "out"), cwd=folder, timeout=300)
    assert run.code == 0, run.stderr[-2000:]
    work = folder / "out" / "tasks" / "self" / "work"
    assert "a + b" in (work / "calc.py").read_text() and not (work / "out").exists()
    not_a_folder = wren("batch", str(tasks), "--out", str(folder / "calc.py"), cwd=folder)
    assert not_a_folder.code == 2 and "--out" in not_a_folder.stderr and "Traceback" not in not_a_folder.stderr


def test_a_bad_tasks_file_names_the_line(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "repo": ".", "prompt": "x"}\n{"id": "b", "repo": "."}\n')
    run = wren("batch", str(tasks), cwd=tmp_path)
    assert run.code == 2 and f"{tasks}:2: prompt: Field required" in run.stderr
    tasks.write_text('{"id": "a", "repo": ".", "prompt": "x"}\n{"id": "a", "repo": ".", "prompt": "y"}\n')
    run = wren("batch", str(tasks), cwd=tmp_path)
    assert run.code == 2 and "task id 'a' is used twice" in run.stderr


@pytest.mark.slow
def test_a_batch_task_on_the_real_local_model(calc_repo, tmp_path):
    tasks = tasks_file(tmp_path, [{"id": "smol", "repo": str(calc_repo), "prompt": "Read calc.py.",
                                   "model": "local:smollm2", "approval": "read-only", "max_steps": 2}])
    out = tmp_path / "out"
    run = wren("batch", str(tasks), "--out", str(out), "--workers", "1", cwd=tmp_path, timeout=900)
    assert run.code in (0, 1), run.stderr
    got = results(out)["smol"]
    assert got["result"] is not None, got  # the agent ran and reported
    assert got["result"]["usage"]["prompt_tokens"] > 100 and got["result"]["steps"] >= 1
