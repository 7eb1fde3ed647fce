"""Model roles: a fast model writes compaction summaries, roles switch mid-session, usage is split per role."""
from __future__ import annotations

import json

import pytest

from conftest import wren
from wren.agent.approval import Policy
from wren.agent.models.scripted import ScriptedBackend
from wren.agent.session import Session, SessionConfig
from wren.core.config import ModelsConfig, load_config
from wren.core.ops import ApprovalDecision, Compact, SetModel, Shutdown, UserInput
from wren.tools.base import default_registry

WINDOW = 6000
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}


def big_files(repo, n=12):
    for i in range(n):
        lines = [f"line {k} of big file {i}: " + "lorem ipsum dolor sit amet " * 3 for k in range(40)]
        (repo / f"big_{i}.txt").write_text("\n".join(lines) + "\n")


def script(path, turns, **extra):
    path.write_text(json.dumps({"turns": turns, **extra}))
    return f"scripted:{path}"


def logged(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_fast_model_summarises_compactions_and_usage_is_split_per_role(calc_repo, tmp_path):
    big_files(calc_repo)
    reads = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"big_{i}.txt"}}]} for i in range(12)]
    # The main script has no summaries of its own: a summary it wrote would read "(scripted summary ...)".
    main = script(tmp_path / "main.json", reads + [{"content": "done"}], window=WINDOW)
    fast = script(tmp_path / "fast.json", [], summaries=[f"FAST SUMMARY {n}" for n in range(20)])
    (calc_repo / "wren.toml").write_text(f'embeddings = "none"\n[models]\nfast = "{fast}"\n')
    run = wren("run", "Read the big files", "--model", main, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    compactions = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "context_compacted"]
    assert compactions, "the small window must force a compaction"
    assert all(c["summary_model"] == fast for c in compactions)
    assert all(c["summary"].startswith("FAST SUMMARY") for c in compactions)
    roles = run.json["usage_by_role"]
    assert set(roles) == {"main", "fast"}
    assert roles["main"] == run.json["usage"]  # every step of the turn ran on main
    assert roles["fast"]["prompt_tokens"] > 0 and roles["fast"]["completion_tokens"] > 0


def test_without_a_fast_model_main_summarises(calc_repo, tmp_path):
    big_files(calc_repo)
    reads = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"big_{i}.txt"}}]} for i in range(12)]
    main = script(tmp_path / "main.json", reads + [{"content": "done"}], window=WINDOW)
    (calc_repo / "wren.toml").write_text('embeddings = "none"\n')
    run = wren("run", "Read the big files", "--model", main, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    compactions = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "context_compacted"]
    assert compactions and all(c["summary_model"] == main for c in compactions)
    assert "fast" in run.json["usage_by_role"]  # main's summaries are still the fast role's work


def test_set_model_switches_one_role_mid_session(calc_repo, tmp_path):
    (calc_repo / "wren.toml").write_text('embeddings = "none"\n')
    main = tmp_path / "main.json"
    main.write_text(json.dumps({"turns": [{"content": "first"}, {"content": "second"}]}))
    # The summary keeps the task ("hello"): one that loses it is sent back (context/compaction.py).
    other = script(tmp_path / "other.json", [], summaries=["OTHER SUMMARY: the user said hello"])
    s = Session(SessionConfig(root=calc_repo, backend=ScriptedBackend(main), registry=default_registry(),
                              policy=Policy(mode="auto")))
    s.submit(UserInput(text="hello"))
    s.submit(SetModel(model=other, role="fast"))
    s.submit(Compact())
    s.submit(UserInput(text="again"))
    s.submit(Shutdown())
    events = list(s.events())
    changed = [e for e in events if e.type == "model_changed"]
    assert [(e.role, e.model) for e in changed] == [("fast", other)]
    compacted = [e for e in events if e.type == "context_compacted"]
    assert [(c.summary_model, c.summary) for c in compacted] == [(other, "OTHER SUMMARY: the user said hello")]
    results = [e for e in events if e.type == "result"]
    assert [r.summary for r in results] == ["first", "second"]  # turns stayed on main
    assert s.backend.name == f"scripted:{main}"


@pytest.mark.slow
def test_a_real_fast_model_writes_the_summary(calc_repo, tmp_path):
    big_files(calc_repo, 8)
    reads = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"big_{i}.txt"}}]} for i in range(8)]
    main = script(tmp_path / "main.json", reads + [{"content": "done"}], window=WINDOW)
    (calc_repo / "wren.toml").write_text('embeddings = "none"\n[models]\nfast = "local:smollm2"\n')
    run = wren("run", "Read the big files", "--model", main, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo, timeout=900)
    assert run.code == 0, run.stderr
    compactions = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "context_compacted"]
    assert compactions and all(c["summary_model"].startswith("local:") for c in compactions)
    assert run.json["usage_by_role"]["fast"]["completion_tokens"] > 0


def test_acp_effort_and_role_commands(calc_repo, tmp_path):
    from acp_client import running

    fast = script(tmp_path / "fast.json", [])
    with running("--model", script(tmp_path / "main.json", [{"content": "hi"}]), cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "/effort high")["result"]["stopReason"] == "end_turn"
        assert client.prompt(sid, f"/model fast {fast}")["result"]["stopReason"] == "end_turn"
        assert client.prompt(sid, "hello")["result"]["stopReason"] == "end_turn"
        status = client.prompt(sid, "/status")
        assert status["result"]["stopReason"] == "end_turn"
        said = "".join(u["content"]["text"] for u in client.updates(sid, "agent_message_chunk"))
        thoughts = "".join(u["content"]["text"] for u in client.updates(sid, "agent_thought_chunk"))
        options = client.updates(sid, "config_option_update")[-1]["configOptions"]
        assert client.close() == 0
    assert "Effort: high" in said and f"Model for fast: {fast}" in said and " · main " in said
    assert "effort high: not supported" in thoughts and f"now on {fast} for fast" in thoughts
    assert {o["id"]: o["currentValue"] for o in options}["effort"] == "high"


def test_the_fast_model_titles_the_session_once(calc_repo, tmp_path):
    fast = script(tmp_path / "fast.json", [{"content": '"Fix the add function"', "expect": ["Fix add() in calc.py"]}])
    (calc_repo / "wren.toml").write_text(f'[models]\nfast = "{fast}"\n')
    main = script(tmp_path / "main.json", [{"content": "done"}, {"content": "again"}])
    run = wren("run", "Fix add() in calc.py", "--model", main, "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    again = wren("run", "--continue", "and more", "--model", main, "--output-format", "json", cwd=calc_repo)
    assert again.code == 0, again.stderr  # no second title: the fast script has only one turn
    titles = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "session_titled"]
    assert [(t["title"], t["model"]) for t in titles] == [("Fix the add function", fast)]
    assert run.json["usage_by_role"]["fast"]["prompt_tokens"] > 0
    listed = wren("sessions", "list", cwd=calc_repo)
    assert "Fix the add function" in listed.stdout and "Fix add() in calc.py" not in listed.stdout


def test_the_fast_model_sums_up_each_approval_request_in_one_line(calc_repo, tmp_path):
    (calc_repo / "wren.toml").write_text('embeddings = "none"\n')
    fast = script(tmp_path / "fast.json", [{"content": "Makes add() return the sum", "expect": ["return a + b"]},
                                           {"content": "Fix the add function"}])
    main = tmp_path / "main.json"
    main.write_text(json.dumps({"turns": [{"tool_calls": [EDIT]}, {"content": "done"}]}))
    config = load_config(calc_repo).model_copy(update={"models": ModelsConfig(fast=fast)})
    s = Session(SessionConfig(root=calc_repo, backend=ScriptedBackend(main), registry=default_registry(),
                              policy=Policy(mode="ask"), interactive=True, config=config))
    s.submit(UserInput(text="fix add"))
    asked = []
    for event in s.events():
        if event.type == "approval_requested":
            asked.append(event.summary)
            s.submit(ApprovalDecision(call_id=event.call_id, decision="allow_once"))
        if event.type == "result":
            result = event
            s.submit(Shutdown())
    assert asked == ["Makes add() return the sum"]
    assert result.usage_by_role["fast"].completion_tokens > 0


def test_a_fast_model_that_cannot_be_used_spends_nothing_of_main_on_titles(tmp_path):
    from wren.agent.models import resolve_backend
    from wren.agent.roles import Roles

    (tmp_path / "main.json").write_text(json.dumps({"turns": [{"content": "the answer"}]}))
    main = ScriptedBackend(tmp_path / "main.json")
    warned: list[str] = []
    roles = Roles(main, ModelsConfig(fast=f"scripted:{tmp_path / 'missing.json'}"), resolve_backend, warned.append)
    assert roles.title("hello") == "" and roles.one_line("shell ls") == ""
    assert len(warned) == 1 and "fast" in warned[0]  # said once
    assert main._next == 0  # none of main's turns was spent
