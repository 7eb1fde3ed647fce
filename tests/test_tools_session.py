"""Tools inside a session: the plan, secret reads through approval, full output in the log."""
from __future__ import annotations

import json

from conftest import wren, write_script
from test_session import drive, make_session
from wren.core.ops import ApprovalDecision

PLAN = [{"content": "read calc.py", "status": "completed"}, {"content": "fix add()", "status": "in_progress"},
        {"content": "run the tests", "status": "pending"}]


def logged(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_update_plan_emits_the_whole_plan_each_time(calc_repo, tmp_path):
    later = [dict(step, status="completed") for step in PLAN]
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [{"name": "update_plan", "arguments": {"steps": PLAN}}]},
                                           {"tool_calls": [{"name": "update_plan", "arguments": {"steps": later}}]},
                                           {"content": "done", "expect": ["[x] run the tests"]}], mode="read-only")
    events = drive(s, "plan it", lambda e: ApprovalDecision(call_id=e.call_id, decision="deny"))
    plans = [[step.model_dump() for step in e.steps] for e in events if e.type == "plan_updated"]
    assert plans == [PLAN, later]
    first = next(e for e in events if e.type == "tool_result")
    assert first.output == "Plan updated:\n[x] read calc.py\n[~] fix add()\n[ ] run the tests"


def test_reading_a_secret_asks_even_in_auto_edit(calc_repo, tmp_path):
    (calc_repo / ".env").write_text("DB_PASSWORD=hunter2-very-secret\n")
    read_env = {"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]}
    s = make_session(calc_repo, tmp_path, [read_env, read_env, {"content": "done"}], mode="auto-edit")
    answers = iter(["deny", "allow_once"])
    events = drive(s, "look", lambda e: ApprovalDecision(call_id=e.call_id, decision=next(answers)))
    asked = [e for e in events if e.type == "approval_requested"]
    assert len(asked) == 2 and "looks like it holds secrets" in asked[0].reason
    results = [e for e in events if e.type == "tool_result"]
    assert "hunter2" not in results[0].output and results[0].output.startswith("Denied")
    assert "hunter2-very-secret" in results[1].output


def test_headless_secret_read_is_denied_but_auto_reads_it(calc_repo, tmp_path):
    (calc_repo / ".env").write_text("DB_PASSWORD=hunter2-very-secret\n")
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]}, {"content": "could not"}])
    denied = wren("run", "read it", "--model", model, "--approval", "auto-edit", "--output-format", "json",
                  cwd=calc_repo)
    assert denied.code == 4 and "hunter2" not in json.dumps(logged(calc_repo, denied.json["session_id"]))
    allowed = wren("run", "read it", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert allowed.code == 0 and "hunter2" in json.dumps(logged(calc_repo, allowed.json["session_id"]))


def test_capped_output_is_whole_in_the_log(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "seq 1 50000"}}]},
        {"content": "counted", "expect": ["lines", "cut; rerun with the output redirected"]}])
    run = wren("run", "count", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    result = next(e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "tool_result")
    assert "\n25000\n" not in result["output"] and "\n25000\n" in result["full_output"]
    assert result["full_output"].count("\n") == 50001
