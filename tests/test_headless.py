"""End-to-end `wren run` on a real git repo with the scripted model."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time

from conftest import CALC, WREN, clean_env, scripted, wren, write_script
from wren.core.events import EVENT_ADAPTER
from wren.cli.run import _whole_writes


def test_fix_failing_test_then_resume(calc_repo):
    run = wren("run", "Fix the failing test in this repo", "--model", scripted("fix_calc.json"),
               "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["type"] == "result" and result["status"] == "success" and result["exit_code"] == 0
    assert result["summary"] == "Done: add() now adds."
    assert result["steps"] == 4
    assert result["files_changed"] == ["calc.py"]
    assert result["error"] is None
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")

    log = calc_repo / ".wren" / "sessions" / f"{result['session_id']}.jsonl"
    events = [EVENT_ADAPTER.validate_json(line) for line in log.read_text().splitlines()]
    types = [e.type for e in events]
    assert types[0] == "session_started" and types[-2:] == ["turn_ended", "result"]
    assert types.count("tool_call") == types.count("tool_result") == 3
    assert types.count("usage") == 4
    results = [e for e in events if e.type == "tool_result"]
    assert all(r.ok for r in results)
    assert results[1].diff and "+    return a + b" in results[1].diff
    assert "1 passed" in results[2].output

    again = wren("run", "--resume", result["session_id"], "--output-format", "json", "what did you change?",
                 "--model", scripted("resume_question.json"), cwd=calc_repo)
    assert again.code == 0, again.stderr
    assert again.json["session_id"] == result["session_id"]
    assert "a + b" in again.json["summary"]
    resumed = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["type"] for e in resumed].count("session_started") == 2
    assert resumed[len(events)]["resumed"] is True


def test_continue_picks_latest_session(calc_repo):
    first = wren("run", "Fix the failing test in this repo", "--model", scripted("fix_calc.json"),
                 "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert first.code == 0, first.stderr
    again = wren("run", "--continue", "what did you change?", "--model", scripted("resume_question.json"),
                 "--output-format", "json", cwd=calc_repo)
    assert again.code == 0, again.stderr
    assert again.json["session_id"] == first.json["session_id"]


def test_text_output_answer_on_stdout_progress_on_stderr(calc_repo):
    run = wren("run", "Fix the failing test in this repo", "--model", scripted("fix_calc.json"),
               "--approval", "auto", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.stdout.strip() == "Done: add() now adds."
    assert "→ edit_file" in run.stderr and "success (exit 0)" in run.stderr


def test_stream_json_prints_every_event_then_result(calc_repo):
    run = wren("run", "-", "--model", scripted("fix_calc.json"), "--approval", "auto",
               "--output-format", "stream-json", cwd=calc_repo, stdin="Fix the failing test in this repo")
    assert run.code == 0, run.stderr
    lines = run.lines
    for line in lines:
        EVENT_ADAPTER.validate_python(line)
    assert lines[0]["type"] == "session_started"
    assert lines[-1]["type"] == "result" and lines[-1]["status"] == "success"
    assert any(line["type"] == "assistant_delta" for line in lines)


def test_stream_json_lines_stay_whole_unbuffered_behind_a_slow_reader(calc_repo, tmp_path):
    # Unbuffered, a write to a full pipe that a signal cuts short used to drop the rest of the line.
    content = "".join(f"line {i} of a file too big for one pipe buffer\n" for i in range(20000))
    steps = [{"tool_calls": [{"name": "write_file", "arguments": {"path": "big.txt", "content": content * (i % 2 + 1)}}]}
             for i in range(4)]
    model = write_script(tmp_path / "s.json", [*steps, {"content": "Done."}])
    proc = subprocess.Popen([str(WREN), "run", "write it", "--model", model, "--approval", "auto", "--output-format",
                             "stream-json"], cwd=calc_repo, env=clean_env(PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(1)  # the reader lags behind, so the pipe fills and each long line is written in pieces
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    events = [EVENT_ADAPTER.validate_json(line) for line in out.splitlines()]
    assert events[-1].type == "result" and events[-1].status == "success"
    assert sum(e.type == "tool_result" for e in events) == 4


class ShortWrites(io.RawIOBase):
    """A pipe whose writes signals cut short: at most 1000 bytes a call."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += bytes(b[:1000])
        return min(len(b), 1000)


def test_unbuffered_stdout_gets_whole_lines(monkeypatch):
    raw = ShortWrites()
    unbuffered = io.TextIOWrapper(raw, write_through=True)  # as PYTHONUNBUFFERED makes it; sys.__stdout__ keeps it
    monkeypatch.setattr(sys, "stdout", unbuffered)
    _whole_writes()
    print("x" * 5000)
    assert raw.data == b"x" * 5000 + b"\n"


def test_ask_mode_headless_denies_without_waiting(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"content": "I could not edit calc.py.", "expect": ["headless runs never wait"]},
    ])
    run = wren("run", "fix it", "--model", model, "--output-format", "json", cwd=calc_repo, stdin="")
    assert run.code == 4, run.stderr
    assert run.json["status"] == "denied"
    assert (calc_repo / "calc.py").read_text() == CALC


def test_include_diff_adds_the_git_diff_of_changed_files(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}},
                        {"name": "write_file", "arguments": {"path": "NOTES.md", "content": "fixed add\n"}}]},
        {"content": "Fixed."},
    ])
    run = wren("run", "fix", "--model", model, "--approval", "auto", "--output-format", "json", "--include-diff",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    diff = run.json["diff"]
    assert "diff --git a/calc.py b/calc.py" in diff and "-    return a - b" in diff and "+    return a + b" in diff
    assert "+fixed add" in diff and "NOTES.md" in diff
    plain = write_script(tmp_path / "plain.json", [{"content": "Nothing to do."}])
    without = wren("run", "fix", "--model", plain, "--output-format", "json", cwd=calc_repo)
    assert without.code == 0 and without.json["diff"] is None


def test_files_a_shell_command_changed_are_in_the_result_and_its_diff(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo made > made.txt && rm test_calc.py"}}]},
        {"content": "Done."},
    ])
    run = wren("run", "make a file", "--model", model, "--approval", "auto", "--output-format", "json",
               "--include-diff", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert sorted(run.json["files_changed"]) == ["made.txt", "test_calc.py"]
    assert "+made" in run.json["diff"] and "-def test_add" in run.json["diff"]
    assert run.json["tests_changed"] == ["test_calc.py"]  # a deleted test is a changed test


def test_include_diff_outside_git_uses_the_tools_diffs(tmp_path):
    work = tmp_path / "plain"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"content": "Fixed."},
    ])
    run = wren("run", "fix", "--model", model, "--approval", "auto", "--output-format", "json", "--include-diff",
               cwd=work)
    assert run.code == 0, run.stderr
    assert "-    return a - b" in run.json["diff"] and "+    return a + b" in run.json["diff"]


def test_dash_with_a_terminal_on_stdin_is_a_usage_error(calc_repo):
    import os
    import pty
    import subprocess

    from conftest import WREN, clean_env

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([str(WREN), "run", "-", "--model", scripted("fix_calc.json")], cwd=calc_repo,
                              stdin=terminal, capture_output=True, text=True, env=clean_env(), timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 2, proc.stderr
    assert "stdin is a terminal" in proc.stderr


def test_no_prompt_is_a_usage_error(calc_repo):
    run = wren("run", "--model", scripted("fix_calc.json"), cwd=calc_repo)
    assert run.code == 2 and "no prompt" in run.stderr
