"""Effort: mapped to the provider's parameter where there is one, reported unsupported (once) where
there is none, and then it sets Wren's step budget and verification."""
from __future__ import annotations

import json

import pytest

from bench.token_proxy import TokenProxy
from conftest import CALC, scripted, wren, write_script
from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models.litellm_backend import LiteLLMBackend
from wren.agent.session import Session, SessionConfig
from wren.core.ops import SetEffort, Shutdown, UserInput
from wren.tools.base import default_registry

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
# Forty different calls: the same call over and over would be stopped as a loop long before.
LOOKS = [{"tool_calls": [{"name": "grep", "arguments": {"pattern": f"word{i}"}}]} for i in range(40)]
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}


def efforts(lines):
    return [e for e in lines if e["type"] == "effort_changed"]


def logged(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_low_effort_without_a_switch_is_reported_and_cuts_the_step_budget(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", LOOKS)
    run = wren("run", "look", "--effort", "low", "--model", model, "--output-format", "stream-json", cwd=calc_repo)
    assert run.code == 5, run.stderr  # the step limit
    [reported] = efforts(run.lines)
    assert not reported["supported"] and "has no effort switch" in reported["applied"]
    assert "25 steps" in reported["applied"]
    assert run.lines[-1]["steps"] == 25  # a quarter of the default 100


def test_a_step_budget_the_user_set_stays(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", LOOKS)
    run = wren("run", "look", "--effort", "low", "--max-steps", "30", "--model", model, "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 5 and run.json["steps"] == 30
    assert run.stderr.count("effort low is not supported") == 1  # said once, on stderr with the progress
    assert "the step budget stays the 30 steps set" in run.stderr and "effort sets the step budget" not in run.stderr


def test_high_effort_without_a_switch_has_the_tests_run_before_answering(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [EDIT]}, {"content": "fixed"},
        {"tool_calls": [{"name": "run_tests", "arguments": {}}], "expect": ["Before you answer"]},
        {"content": "fixed and tested"}])
    (calc_repo / "wren.toml").write_text('effort = "high"\n')  # the config key, not the flag
    run = wren("run", "fix add", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["summary"] == "fixed and tested"
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_a_bad_effort_is_a_usage_error(calc_repo):
    assert wren("run", "x", "--effort", "huge", cwd=calc_repo).code == 2
    (calc_repo / "wren.toml").write_text('effort = "huge"\n')
    run = wren("run", "x", "--model", scripted("fix_calc.json"), cwd=calc_repo)
    assert run.code == 2 and "effort" in run.stderr


@pytest.mark.slow
def test_effort_reaches_the_server_and_set_effort_changes_the_next_request(calc_repo, llama_server):
    with TokenProxy(llama_server) as proxy:
        run = wren("run", "Say hello.", "--effort", "high", "--model", "openai/smollm2", "--api-base", proxy.url,
                   "--max-steps", "1", "--approval", "read-only", "--output-format", "stream-json",
                   cwd=calc_repo, timeout=300)
        assert run.lines[-1]["error"] is None, run.stderr
        assert [b.get("reasoning_effort") for b in proxy.bodies] == ["high"]
        [reported] = efforts(run.lines)
        assert reported["supported"] and reported["applied"] == "reasoning_effort=high"

        proxy.reset()
        backend = LiteLLMBackend("openai/smollm2", api_base=proxy.url)
        s = Session(SessionConfig(root=calc_repo, backend=backend, registry=default_registry(),
                                  policy=Policy(mode="read-only"), limits=Limits(max_steps=1), effort="low"))
        s.submit(UserInput(text="Say hello."))
        results = 0
        for event in s.events():
            if event.type == "result" and not results:
                s.submit(SetEffort(effort="max"))  # after the first turn, as /effort in the UI sends it
                s.submit(UserInput(text="Say goodbye."))
                s.submit(Shutdown())
            results += event.type == "result"
        assert results == 2
        # max is `high` for OpenAI-style servers (Anthropic gets a thinking budget instead).
        assert [b.get("reasoning_effort") for b in proxy.bodies] == ["low", "high"]


@pytest.mark.slow
def test_the_local_backend_reports_effort_unsupported_once(calc_repo):
    run = wren("run", "Say hello.", "--effort", "high", "--model", "local", "--max-steps", "2",
               "--approval", "read-only", "--output-format", "json", cwd=calc_repo, timeout=600)
    assert run.json["error"] is None, run.stderr
    [reported] = efforts(logged(calc_repo, run.json["session_id"]))
    assert not reported["supported"] and "no thinking switch" in reported["applied"]
    assert run.stderr.count("is not supported") == 1
