"""shell on real processes: timeouts kill everything, output is capped head and tail, secrets never show."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from conftest import clean_env, needs_sandbox, processes_with, wait_until, wren, write_script
from wren.core.config import SandboxConfig
from wren.tools.base import ToolContext, default_registry
from wren.tools.sandbox import Sandbox
from wren.tools.workspace import Workspace

REGISTRY = default_registry()
SHELL = REGISTRY.get("shell")


def shell(root: Path, command: str, timeout_s: float | None = None, interrupt: threading.Event | None = None,
          sandbox: str = "auto"):
    ctx = ToolContext(Workspace(root), interrupt or threading.Event(), sandbox=Sandbox(SandboxConfig(mode=sandbox)))
    return SHELL.run(SHELL.args(command=command, timeout_s=timeout_s), ctx)


# Without the sandbox, process groups and tags end what a command leaves; in it, its PID namespace does too.
BOTH = pytest.mark.parametrize("sandbox", ["off", pytest.param("require", marks=needs_sandbox())])


STUBBORN = """
bash -c 'trap "" TERM; echo $$ > child.pid; exec sleep 86401' &
setsid bash -c 'trap "" TERM; echo $$ > escaped.pid; while true; do sleep 86402; done' > /dev/null 2>&1 &
nohup bash -c 'trap "" TERM HUP; sleep 86403' > /dev/null 2>&1 &
echo started
wait
"""


def wait_gone(marker: str) -> None:
    """Return once no process with `marker` runs, however long init takes to reap orphans on a busy
    machine. The sleeps below last a day, so one that was not killed keeps this waiting until
    pytest-timeout fails the test."""
    wait_until(lambda: not processes_with(marker))


# PIDs the command writes would be those of its namespace in the sandbox: processes are found by command line.
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see which processes remain")
@BOTH
def test_timeout_kills_children_that_ignore_sigterm_and_leave_the_group(tmp_path, sandbox):
    # The children sleep for a day and `wait` waits for them: the call returns only because the timeout killed.
    result = shell(tmp_path, STUBBORN, timeout_s=2, sandbox=sandbox)
    assert not result.ok and result.exit_code is None
    assert "started" in result.output and "killed: timed out after 2s" in result.output
    assert (tmp_path / "child.pid").exists() and (tmp_path / "escaped.pid").exists()
    for child in ("sleep 86401", "sleep 86402", "sleep 86403"):
        wait_gone(child)  # no child of the command is left running


@BOTH
def test_background_children_do_not_outlive_a_finished_command(tmp_path, sandbox):
    result = shell(tmp_path, "(trap '' TERM; exec sleep 86404) > /dev/null 2>&1 & echo done", sandbox=sandbox)
    assert result.ok and result.exit_code == 0 and "done" in result.output
    wait_gone("sleep 86404")


@BOTH
def test_interrupt_kills_the_command(tmp_path, sandbox):
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = shell(tmp_path, "sleep 86405", interrupt=stop, sandbox=sandbox)
    assert "killed: interrupted" in result.output and processes_with("sleep 86405") == []


def test_output_is_merged_ansi_stripped_with_exit_code_and_no_stdin(tmp_path):
    result = shell(tmp_path, "printf '\\033[31mred\\033[0m\\n'; echo err >&2; cat; printf 'a\\rb\\n'; exit 3")
    assert result.ok and result.exit_code == 3
    assert result.output == "$ printf '\\033[31mred\\033[0m\\n'; echo err >&2; cat; printf 'a\\rb\\n'; exit 3\n" \
                            f"red\nerr\nb\n[exit code 3, {result.output.rsplit(', ', 1)[1]}"


def test_interactive_programs_do_not_stall_a_command(tmp_path, monkeypatch):
    # `git commit` without -m opens an editor and waits: with a person's EDITOR it stalled to the timeout.
    from conftest import git

    monkeypatch.setenv("EDITOR", "vi")
    monkeypatch.setenv("GIT_EDITOR", "vi")
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    result = shell(tmp_path, "git add a.txt && git -c user.name=u -c user.email=u@x commit -q; echo rc=$?; "
                             "git log --oneline | cat; echo $PAGER $GIT_TERMINAL_PROMPT $DEBIAN_FRONTEND",
                   timeout_s=60, sandbox="off")
    assert "killed" not in result.output and "rc=1" in result.output  # an empty message aborts: no wait
    assert "cat 0 noninteractive" in result.output


def test_long_output_keeps_head_and_tail_and_the_log_gets_all(tmp_path):
    result = shell(tmp_path, "seq 1 100000")
    head, tail = result.output.split("[... ", 1)
    assert head.startswith("$ seq 1 100000\n1\n2\n3\n")
    assert tail.rstrip().endswith("99999\n100000\n[exit code 0, " + tail.rsplit(", ", 1)[1].rstrip())
    assert "cut; rerun with the output redirected to a file" in tail
    assert len(result.output) < 17_000
    assert result.full_output.count("\n") == 100001 and "\n50000\n" in result.full_output


def test_exported_api_key_never_reaches_the_model_or_the_log(calc_repo, tmp_path, monkeypatch):
    key = "sk-test-0123456789abcdefXYZ"
    monkeypatch.setenv("WREN_TEST_API_KEY", key)
    direct = shell(calc_repo, "echo key=$WREN_TEST_API_KEY; env | grep WREN_TEST")
    assert key not in direct.output and "key=[redacted $WREN_TEST_API_KEY]" in direct.output

    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo $FAKE_SERVICE_TOKEN | rev | rev"}}]},
        {"content": "printed it", "expect": ["[redacted $FAKE_SERVICE_TOKEN]"]},
    ])
    run = wren("run", "show the token", "--model", model, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo, env=clean_env(FAKE_SERVICE_TOKEN=key))
    assert run.code == 0, run.stderr
    log = (calc_repo / ".wren" / "sessions" / f"{run.json['session_id']}.jsonl").read_text()
    assert key not in log and key not in run.stdout and key not in run.stderr
    results = [json.loads(line) for line in log.splitlines() if '"tool_result"' in line]
    assert "[redacted $FAKE_SERVICE_TOKEN]" in results[0]["output"]


def test_runs_in_the_workspace_root(tmp_path):
    assert shell(tmp_path, "pwd").output.splitlines()[1] == os.path.realpath(tmp_path)


def test_a_stop_marker_split_between_two_reads_or_followed_by_much_output_is_seen():
    """run's stop_on (tools/process.py): the marker is looked for as it is read, so a long dump after it
    (a deep recursion's stack) cannot push it out of view."""
    from wren.tools.process import _Capture

    capture = _Capture(b"Timeout (0:00:30)!")
    capture.add(b"FF..Timeout (0:0")
    assert capture.seen_at is None
    capture.add(b"0:30)!\n" + b"  File x.py, line 3 in f\n" * 5000)
    assert capture.seen_at is not None
