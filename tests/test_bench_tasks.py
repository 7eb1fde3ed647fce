"""The task benchmark's judge (bench/quixbugs.py) and table (bench/tasks.py), on QuixBugs' gcd task."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import quixbugs
from bench.tasks import table
from conftest import git

TASK = Path(__file__).parent / "data" / "quixbugs_gcd"


def workspace(tmp_path: Path) -> Path:
    repo = tmp_path / "gcd"
    shutil.copytree(TASK, repo, ignore=shutil.ignore_patterns("LICENSE", "README.md"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "task")
    return repo


def test_solved_means_the_tests_pass_and_no_test_changed(tmp_path):
    repo = workspace(tmp_path)
    before = quixbugs.check(repo, "gcd")
    assert not before.passed and not before.solved and "RecursionError" in before.output
    program = repo / "python_programs" / "gcd.py"
    program.write_text(program.read_text().replace("gcd(a % b, b)", "gcd(b, a % b)"))
    assert quixbugs.check(repo, "gcd").solved
    data = repo / "json_testcases" / "gcd.json"
    data.write_text(data.read_text() + "[[1, 1], 1]\n")  # passing, but by changing the tests' data
    after = quixbugs.check(repo, "gcd")
    assert after.passed and not after.solved and after.tests_changed == ["json_testcases/gcd.json"]


def test_the_table_counts_solved_tasks_and_names_who_solved_each():
    rows = [{"system": "wren", "task": "gcd", "solved": True, "wall_s": 60, "prompt_tokens": 900,
             "completion_tokens": 90, "tests_changed": []},
            {"system": "wren", "task": "kth", "solved": False, "wall_s": 100, "prompt_tokens": 1100,
             "completion_tokens": 110, "tests_changed": ["python_testcases/test_kth.py"]},
            {"system": "aider", "task": "gcd", "solved": False, "wall_s": 30, "prompt_tokens": 500,
             "completion_tokens": 50, "tests_changed": [], "status": None}]
    lines = table(rows, ["wren", "aider"], ["gcd", "kth"]).splitlines()
    assert "| wren | 1/2 | 50% | 80 / 60 | 1000 / 100 |" in lines
    assert "| aider | 0/1 | 0% | 30 / - | 500 / 50 |" in lines
    assert "| gcd | solved | failed |" in lines and "| kth | tests changed | - |" in lines


def test_each_row_names_the_commit_of_the_wren_source_it_ran():
    """A long benchmark may span commits (its worktree moved between tasks): each row says which ran. Here,
    the checkout the tests import Wren from."""
    from bench.tasks import wren_commit

    import git as gitpython

    import wren.core

    repo = gitpython.Repo(Path(wren.core.__file__).parent, search_parent_directories=True)
    assert wren_commit() == repo.head.commit.hexsha[:7] + ("+dirty" if repo.is_dirty() else "")


def test_the_report_tables_the_newest_row_of_each_system_and_task_from_recorded_runs(tmp_path):
    """`--report`: runs spread over sessions make one table; a re-run of a task replaces its earlier row, and the
    Wren commits the rows came from are named. A line that is not a row is refused with its place."""
    import json

    from bench.tasks import report

    def row(system, task, solved, commit=None):
        return {"system": system, "task": task, "solved": solved, "wall_s": 100, "prompt_tokens": 10,
                "completion_tokens": 1, "tests_changed": [], **({"commit": commit} if commit else {})}

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in [row("wren", "gcd", False, "aaa1111"), row("aider", "gcd", False),
                                                        row("wren", "kth", False, "aaa1111")]) + "\n")
    second.write_text(json.dumps(row("wren", "gcd", True, "bbb2222")) + "\n\n")
    text = report([first, second], None, ["gcd", "kth", "lis"])
    assert text.startswith("2 tasks; Wren rows from aaa1111, bbb2222\n")
    assert "| wren | 1/2 | 50% |" in text and "| aider | 0/1 | 0% |" in text and "| gcd | solved | failed |" in text
    assert "lis" not in text and text.index("| wren |") < text.index("| aider |")
    assert "| aider |" not in report([first, second], ["wren"], ["gcd", "kth"])
    for bad, why in (('{"system": "wren"}', "no task, solved, wall_s"), ('{"system": ["w"], ' + json.dumps(
            row("x", "gcd", True))[1:].replace('"system": "x", ', ""), "must be strings"), ("[1]", "no system"),
                     ("{oops", "Expecting property name")):
        second.write_text(bad + "\n")
        with pytest.raises(ValueError, match=f"b.jsonl:1: not a result row .*{why}"):
            report([first, second], None, ["gcd"])


def test_a_plan_mode_setting_runs_the_plan_role_then_the_edit_role_on_the_plan(tmp_path, monkeypatch):
    """`wren[mode=plan edit=MODEL]`: the main model plans (read-only), the edit model gets the plan and fixes gcd;
    steps and tokens of both runs add up within the task's step limit (scripted models; SmolLM2 below). The
    logs' folder is given relative, as `--out` may be: the runs work in the task's folder."""
    from bench import tasks
    from bench.settings import parse
    from conftest import write_script

    monkeypatch.chdir(tmp_path)
    repo, logs = workspace(tmp_path), Path("logs")
    logs.mkdir()
    read = {"name": "read_file", "arguments": {"path": "python_programs/gcd.py"}}
    plan_turns = [{"tool_calls": [read], "expect": ["Plan mode"]},
                  {"content": "Steps:\n1. Swap the recursive call's arguments\nFiles: python_programs/gcd.py\n"
                              "Verify: pytest python_testcases/test_gcd.py"}]
    plan = write_script(tmp_path / "plan.json", plan_turns)
    fix = {"name": "edit_file", "arguments": {"path": "python_programs/gcd.py", "old": "gcd(a % b, b)",
                                              "new": "gcd(b, a % b)"}}
    edit = write_script(tmp_path / "edit.json", [{"tool_calls": [fix], "expect": ["approved plan", "Swap"]},
                                                 {"content": "Done: the arguments are swapped."}])
    row = tasks.run_wren(repo, "gcd", plan, logs, 120, parse(f"wren[mode=plan edit={edit}]"))
    assert row["planned"] and row["plan_steps"] == 2 and row["exit_code"] == 0, row
    assert quixbugs.check(repo, "gcd").solved
    done = json.loads(Path(row["log"]).read_text().splitlines()[-1])
    assert done["usage_by_role"].keys() == {"edit"} and row["steps"] == 2 + done["steps"] <= tasks.STEP_LIMIT
    assert row["prompt_tokens"] == done["usage"]["prompt_tokens"] + json.loads(
        Path(row["log"]).with_suffix(".plan.json").read_text())["usage"]["prompt_tokens"]

    unplanned = tasks.run_wren(workspace(tmp_path / "again"), "gcd", write_script(tmp_path / "none.json", [{"content": ""}]),
                               logs, 120, parse("wren[mode=plan]"))
    assert not unplanned["planned"] and unplanned["status"] == "failed" and unplanned["steps"] == 1
    assert unplanned["log"].endswith(".plan.json") and Path(unplanned["log"]).is_file()  # the run that was made

    monkeypatch.setattr(tasks, "STEP_LIMIT", 2)  # the plan takes both steps: none is left to carry it out
    spent = tasks.run_wren(workspace(tmp_path / "third"), "gcd", write_script(tmp_path / "p2.json", plan_turns),
                           logs, 120, parse(f"wren[mode=plan edit={edit} fast=local:smollm2]"))
    assert spent["planned"] and spent["steps"] == 2 and spent["status"] == "limit", spent
    assert not quixbugs.check(tmp_path / "third" / "gcd", "gcd").passed


@pytest.mark.slow
def test_a_plan_mode_setting_plans_then_carries_the_plan_out_within_the_tasks_steps(tmp_path, monkeypatch):
    """`wren[mode=plan ...]` on a real model (SmolLM2): `wren run --plan` writes a plan, `--plan-file` carries it out
    with the steps the plan left, and the row adds both runs up. This is where the plan and edit roles act."""
    from bench import tasks
    from bench.settings import parse
    from conftest import smollm2_path

    monkeypatch.setattr(tasks, "STEP_LIMIT", 5)  # a SmolLM2 step with a careful prompt took 218 s on busy cores
    repo, logs = workspace(tmp_path), tmp_path / "logs"
    logs.mkdir()
    # Seconds to spare: the step limit, not the clock, is what ends each run on a slow or busy machine.
    setting = parse("wren[mode=plan edit=local:smollm2]")
    row = tasks.run_wren(repo, "gcd", smollm2_path(), logs, 1800, setting)
    plan = json.loads((logs / f"{setting.slug}-gcd.plan.json").read_text())
    assert plan["type"] == "result" and row["plan_steps"] == plan["steps"] >= 1 and row["plan_s"] > 0
    assert row["planned"] == (plan["plan"] is not None)
    if row["planned"] and plan["steps"] == 5:  # the plan took every step: none is left to carry it out
        assert row["status"] == "limit" and row["steps"] == 5 and row["log"].endswith(".plan.json")
    elif row["planned"]:  # SmolLM2 answers something, which is a plan in its text; carried out in the second run
        carried = [json.loads(line) for line in (logs / f"{setting.slug}-gcd.jsonl").read_text().splitlines()]
        done = carried[-1]
        assert done["type"] == "result" and done["steps"] <= 5 - plan["steps"]
        assert row["steps"] == plan["steps"] + done["steps"]
        assert row["prompt_tokens"] == plan["usage"]["prompt_tokens"] + done["usage"]["prompt_tokens"]
        assert done["usage_by_role"].keys() <= {"edit", "fast"} and "edit" in done["usage_by_role"]
    assert plan["usage_by_role"].keys() <= {"plan", "fast"} and "plan" in plan["usage_by_role"]


def test_the_benchmark_refuses_to_run_wren_where_commands_cannot_be_sandboxed(tmp_path):
    """Without bubblewrap a headless run denies every command, run_tests included: the rows would measure
    that, not the model (a fresh machine once produced a row of such runs). The benchmark says why, exit 2."""
    import os
    import subprocess
    import sys

    bare = tmp_path / "bin"  # a PATH with git and no bwrap
    bare.mkdir()
    (bare / "git").symlink_to(shutil.which("git"))
    script = Path(__file__).parent.parent / "bench" / "tasks.py"
    done = subprocess.run([sys.executable, str(script), "--tasks", "gcd", "--systems", "wren[effort=low]",
                           "--quixbugs", str(tmp_path / "none"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "PATH": str(bare)})
    assert done.returncode == 2 and "bubblewrap" in done.stderr and "run_tests would be refused" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("systems, says", [("Wren[mode=plan]", "write Wren's settings as"),
                                           ("wren,aider,wren", "wren is listed twice"),
                                           ("wren,claude", "claude is neither Wren nor a peer")])
def test_a_bad_systems_list_is_refused_before_anything_runs(tmp_path, systems, says):
    import subprocess
    import sys

    script = Path(__file__).parent.parent / "bench" / "tasks.py"
    done = subprocess.run([sys.executable, str(script), "--tasks", "gcd", "--systems", systems,
                           "--quixbugs", str(tmp_path / "none"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "bad --systems" in done.stderr and says in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()
