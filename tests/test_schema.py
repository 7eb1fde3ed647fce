"""The shipped JSON Schema of `wren run` output: equal to what the models generate, and every output validates."""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from conftest import scripted, wren, write_script
from wren.cli.schema import generate, render, shipped

SCHEMA = json.loads(shipped())
ANY = Draft202012Validator(SCHEMA)
RESULT = Draft202012Validator({"$ref": "#/$defs/Result", "$defs": SCHEMA["$defs"]})

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
FAULTS = {
    "retried": [{"error": "rate_limit"}, {"content": "Done."}],
    "auth": [{"error": "auth"}],
    "exhausted": [{"tool_calls": [READ]}],
    "limit": [{"tool_calls": [READ]}] * 3,
    "bad_arguments": [{"tool_calls": [{"name": "edit_file", "arguments": "{\"path\": "}]},
                      {"tool_calls": [{"name": "no_such_tool", "arguments": {}}]}, {"content": "Gave up."}],
    "plan": [{"tool_calls": [{"name": "update_plan", "arguments": {"steps": [{"content": "fix", "status": "pending"}]}}]},
             {"content": "Planned."}],
}


def test_shipped_schema_is_what_the_models_generate():
    assert shipped() == render(generate()), "regenerate it: python -m wren.cli.schema --write"


def test_print_schema_needs_no_prompt():
    run = wren("run", "--print-schema")
    assert run.code == 0 and json.loads(run.stdout) == SCHEMA


def test_the_schema_rejects_what_is_not_an_output():
    assert not ANY.is_valid({"type": "result", "status": "fine"})
    assert not RESULT.is_valid({"type": "tool_call", "call_id": "1", "name": "x", "arguments": "{}"})
    assert not ANY.is_valid({"type": "no_such_event"})


def assert_valid(run) -> None:
    lines = run.lines
    assert lines, run.stderr
    for line in lines:
        errors = [e.message for e in ANY.iter_errors(line)]
        assert not errors, (line, errors)
    assert RESULT.is_valid(lines[-1]), lines[-1]


@pytest.mark.parametrize("fmt", ["json", "stream-json"])
def test_scenario_outputs_validate(calc_repo, fmt):
    first = wren("run", "Fix the failing test in this repo", "--model", scripted("fix_calc.json"), "--approval",
                 "auto", "--output-format", fmt, "--include-diff", cwd=calc_repo)
    assert first.code == 0, first.stderr
    assert_valid(first)
    again = wren("run", "what did you change?", "--continue", "--model", scripted("resume_question.json"),
                 "--output-format", fmt, cwd=calc_repo)
    assert again.code == 0, again.stderr
    assert_valid(again)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_outputs_validate(calc_repo, tmp_path, fault):
    model = write_script(tmp_path / "s.json", FAULTS[fault])
    for fmt in ("json", "stream-json"):
        run = wren("run", "fix calc", "--model", model, "--approval", "auto", "--max-steps", "2",
                   "--output-format", fmt, cwd=calc_repo)
        assert_valid(run)


def test_denied_and_failed_start_outputs_validate(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [{"tool_calls": [EDIT]}, {"content": "Could not."}])
    denied = wren("run", "fix", "--model", model, "--approval", "read-only", "--output-format", "stream-json",
                  cwd=calc_repo)
    assert denied.code == 4
    assert_valid(denied)
    no_cwd = wren("run", "fix", "--cwd", str(tmp_path / "nope"), "--output-format", "json")
    assert no_cwd.code == 2
    assert_valid(no_cwd)
    assert no_cwd.json["session_id"] is None
