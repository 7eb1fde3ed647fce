"""The GitHub Action's entry point, run as action.yml runs it, on a temp repo with the scripted model."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import CALC, clean_env, scripted, write_script

ROOT = Path(__file__).parent.parent


def run_action(repo: Path, tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = clean_env(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary), RUNNER_TEMP=str(tmp_path),
                    **{f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    proc = subprocess.run([sys.executable, "-m", "wren.cli.action"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=180)
    return proc, parse_outputs(outputs.read_text(encoding="utf-8")), summary.read_text(encoding="utf-8")


def parse_outputs(text: str) -> dict[str, str]:
    """GitHub's NAME<<DELIMITER ... DELIMITER format."""
    found = {}
    for match in re.finditer(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", text, re.S | re.M):
        found[match.group(1)] = match.group(3)
    return found


def test_the_action_fixes_the_test_and_reports_outputs_and_summary(calc_repo, tmp_path):
    proc, outputs, summary = run_action(calc_repo, tmp_path, prompt="Fix the failing test in this repo",
                                        model=scripted("fix_calc.json"), approval="auto", max_steps="10")
    assert proc.returncode == 0, proc.stderr
    assert set(outputs) == {"result", "summary", "exit-code", "diff-file"}
    result = json.loads(outputs["result"])
    assert result["type"] == "result" and result["status"] == "success" and result["files_changed"] == ["calc.py"]
    assert outputs["summary"] == "Done: add() now adds." and outputs["exit-code"] == "0"
    diff = Path(outputs["diff-file"]).read_text(encoding="utf-8")
    assert "+    return a + b" in diff
    assert summary.startswith("## Wren: success (exit 0)")
    for heading in ("### What changed", "### Tests run", "### Cost"):
        assert heading in summary
    assert "- `calc.py`" in summary and "+    return a + b" in summary
    # The test run is listed by the command it ran (run_tests' preview), with its outcome.
    tests_run = summary.split("### Tests run", 1)[1]
    assert "✅ `" in tests_run and "-m pytest" in tests_run and "1 passed" in tests_run
    assert "| $0.0000 |" in summary


def test_a_denied_run_reports_its_exit_code(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "python -m pytest -q"}}]},
        {"content": "I was not allowed to run the tests."},
    ])
    proc, outputs, summary = run_action(calc_repo, tmp_path, prompt="run the tests", model=model,
                                        approval="auto-edit", extra_args="--timeout 60")
    assert proc.returncode == 4, proc.stderr
    assert outputs["exit-code"] == "4" and json.loads(outputs["result"])["status"] == "denied"
    assert "## Wren: denied (exit 4)" in summary and "No files changed." in summary
    assert (calc_repo / "calc.py").read_text() == CALC


def test_action_yml_calls_the_entry_point():
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert "python -m wren.cli.action" in text
    for name in ("prompt", "model", "approval", "max-steps", "max-cost", "timeout", "extra-args"):
        assert f"  {name}:" in text and f"INPUT_{name.upper().replace('-', '_')}" in text
    for name in ("result", "summary", "exit-code", "diff-file"):
        assert f"  {name}:" in text
