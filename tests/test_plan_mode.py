"""Plan mode: read-only exploration ending in a plan; only an approved (maybe edited) plan runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CALC, git, logged_events, wren
from wren.agent.approval import Policy
from wren.agent.models.scripted import ScriptedBackend
from wren.agent.plan import parse_plan
from wren.agent.session import Session, SessionConfig
from wren.core.events import PlanStep, ProposedPlan
from wren.core.ops import PlanDecision, Shutdown, UserInput
from wren.tools.base import default_registry

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
SHELL = {"name": "shell", "arguments": {"command": "touch ran.txt"}}
PLAN = "Steps:\n1. Make add() add\n2. Run the tests\nFiles: calc.py\nVerify: pytest -q"


def script(path, turns):
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def planning_turns():
    """A plan-mode turn that tries to edit and to run a command before it answers with its plan."""
    return [{"tool_calls": [READ], "expect": ["Plan mode"]}, {"tool_calls": [EDIT]}, {"tool_calls": [SHELL]},
            {"content": PLAN}]


def untouched(repo):
    assert (repo / "calc.py").read_text() == CALC
    assert not (repo / "ran.txt").exists()
    changed = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert [line for line in changed if not line.startswith("?? .wren/")] == []  # only Wren's own log


def test_headless_plan_changes_nothing_and_prints_the_plan(calc_repo, tmp_path):
    model = script(tmp_path / "plan.json", planning_turns())
    run = wren("run", "--plan", "fix add", "--model", model, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    untouched(calc_repo)
    plan = run.json["plan"]
    assert [s["content"] for s in plan["steps"]] == ["Make add() add", "Run the tests"]
    assert plan["files"] == ["calc.py"] and plan["verify"] == "pytest -q"
    assert plan["request"] == "fix add"  # what the plan answers: --plan-file's run starts without it
    assert run.json["files_changed"] == []
    text = wren("run", "--plan", "fix add", "--model", script(tmp_path / "p2.json", [{"content": PLAN}]),
                cwd=calc_repo)
    assert text.code == 0 and text.stdout.startswith("Steps:\n1. Make add() add") and "Files: calc.py" in text.stdout


def test_a_plan_turn_that_ends_without_a_plan_fails(calc_repo, tmp_path):
    run = wren("run", "--plan", "fix add", "--model", script(tmp_path / "empty.json", [{"content": ""}]),
               "--output-format", "json", cwd=calc_repo)
    assert run.code == 1, run.stderr
    assert run.json["status"] == "failed" and run.json["plan"] is None and "without a plan" in run.json["summary"]
    untouched(calc_repo)


def test_an_edited_plan_file_is_what_runs(calc_repo, tmp_path):
    planned = wren("run", "--plan", "fix add", "--model", script(tmp_path / "p.json", [{"content": PLAN}]),
                   "--output-format", "json", cwd=calc_repo)
    assert planned.code == 0, planned.stderr
    data = planned.json
    data["plan"]["steps"][0]["content"] = "Make add() add, and nothing else"  # the human's edit
    plan_file = tmp_path / "PLAN.json"
    plan_file.write_text(json.dumps(data))
    execute = script(tmp_path / "exec.json", [
        {"tool_calls": [EDIT], "expect": ["The request: fix add", "approved plan", "Make add() add, and nothing else",
                                          "Verify: pytest -q"]},
        {"content": "done"}])
    run = wren("run", "--plan-file", str(plan_file), "--model", execute, "--approval", "auto",
               "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert run.json["files_changed"] == ["calc.py"]


def test_a_bad_plan_file_is_a_usage_error(calc_repo, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": "not a list"}')
    run = wren("run", "--plan-file", str(bad), "--model", script(tmp_path / "m.json", []), cwd=calc_repo)
    assert run.code == 2 and "plan file" in run.stderr
    both = wren("run", "--plan", "--plan-file", str(bad), "x", cwd=calc_repo)
    assert both.code == 2


def session(repo, tmp_path, turns, **config):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"turns": turns}))
    return Session(SessionConfig(root=repo, backend=ScriptedBackend(path), registry=default_registry(),
                                 policy=Policy(mode="ask"), interactive=True, mode="plan", **config))


def test_rejecting_keeps_everything_as_it_was(calc_repo, tmp_path):
    # The script has only the planning turns: a rejected plan that ran anyway would exhaust it.
    s = session(calc_repo, tmp_path, planning_turns())
    s.submit(UserInput(text="fix add"))
    events = []
    for event in s.events():
        events.append(event)
        assert event.type != "approval_requested"  # plan mode never even asks
        if event.type == "plan_proposed":
            s.submit(PlanDecision(decision="reject"))
            s.submit(Shutdown())
    untouched(calc_repo)
    assert [e.decision for e in events if e.type == "plan_resolved"] == ["reject"]
    assert [e.type for e in events].count("result") == 1
    assert s.policy.mode == "ask"  # the approval mode is back as it was


def test_approving_runs_the_plan_in_the_mode_picked_then(calc_repo, tmp_path):
    s = session(calc_repo, tmp_path, [{"content": PLAN}, {"tool_calls": [EDIT], "expect": ["Make add() add"]},
                                      {"content": "done"}])
    s.submit(UserInput(text="fix add"))
    events = []
    for event in s.events():
        events.append(event)
        if event.type == "plan_proposed":
            untouched(calc_repo)
            s.submit(PlanDecision(decision="approve", approval="auto-edit"))
            s.submit(Shutdown())
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert s.policy.mode == "auto-edit" and s.mode == "act"
    assert "approval_requested" not in [e.type for e in events]  # auto-edit: the edit ran without asking
    assert [e.status for e in events if e.type == "result"] == ["success", "success"]


def test_a_plan_edited_as_text_is_carried_out_for_the_request_it_answers(calc_repo, tmp_path):
    """The TUI and ACP parse an edited plan from its text, which does not hold the request: the proposed plan's
    request goes with it, and the model that carries it out is told both."""
    edited = parse_plan("Steps:\n1. Swap the minus for a plus\nFiles: calc.py", [])
    assert edited.request == ""
    s = session(calc_repo, tmp_path, [{"content": PLAN},
                                      {"tool_calls": [EDIT], "expect": ["The request: fix add", "Swap the minus"]},
                                      {"content": "done"}])
    s.submit(UserInput(text="fix add"))
    for event in s.events():
        if event.type == "plan_proposed":
            assert event.plan.request == "fix add"
            s.submit(PlanDecision(decision="approve", plan=edited, approval="auto-edit"))
            s.submit(Shutdown())
        if event.type == "plan_resolved":
            assert event.plan.request == "fix add" and event.plan.steps[0].content == "Swap the minus for a plus"
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")

def test_parse_plan_reads_bullets_and_a_files_list():
    plan = parse_plan("Plan:\n- read it\n- fix it\n**Files:**\n- `src/a.py`\n- tests/test_a.py\nVerify:\n`pytest`", [])
    assert [s.content for s in plan.steps] == ["read it", "fix it"]
    assert plan.files == ["src/a.py", "tests/test_a.py"] and plan.verify == "pytest"


def acp_plan_session(client, repo):
    client.initialize()
    reply = client.request("session/new", {"cwd": str(repo), "mcpServers": []})["result"]
    assert "plan" in [m["id"] for m in reply["modes"]["availableModes"]]
    sid = reply["sessionId"]
    assert client.request("session/set_mode", {"sessionId": sid, "modeId": "plan"})["result"] == {}
    return sid


def test_acp_plan_mode_changes_nothing_before_approval_and_rejecting_keeps_it_so(calc_repo, tmp_path):
    from acp_client import running

    seen = {}

    def answer(params):  # the editor's user reads the plan, and says no
        if params["toolCall"]["title"] == "Carry out this plan?":
            seen["plan"] = params["toolCall"]["content"][0]["content"]["text"]
            untouched(calc_repo)
            return "reject"
        return "allow_once"

    with running("--model", script(tmp_path / "s.json", planning_turns()), "--approval", "auto",
                 cwd=calc_repo, permission=answer) as client:
        sid = acp_plan_session(client, calc_repo)
        reply = client.prompt(sid, "fix add")
        assert reply["result"]["stopReason"] == "end_turn", reply
        assert client.close() == 0
    assert seen["plan"].startswith("Steps:\n1. Make add() add") and "Files: calc.py" in seen["plan"]
    untouched(calc_repo)


@pytest.mark.parametrize("plan_dir_blocked", [False, True])
def test_acp_approved_plan_runs_in_the_mode_chosen(calc_repo, tmp_path, plan_dir_blocked):
    from acp_client import running

    if plan_dir_blocked:  # the plan file cannot be written: the plan is still asked about, as proposed
        (calc_repo / ".wren").mkdir(exist_ok=True)
        (calc_repo / ".wren" / "plans").write_text("not a folder")

    turns = [{"tool_calls": [READ]}, {"content": PLAN},
             {"tool_calls": [EDIT], "expect": ["approved plan", "Make add() add"]}, {"content": "done"}]
    chosen = []

    def answer(params):
        title = params["toolCall"]["title"]
        chosen.append(title)
        return "auto-edit" if title == "Carry out this plan?" else "reject_once"

    with running("--model", script(tmp_path / "s.json", turns), cwd=calc_repo, permission=answer) as client:
        sid = acp_plan_session(client, calc_repo)
        reply = client.prompt(sid, "fix add")
        assert reply["result"]["stopReason"] == "end_turn", reply
        modes = [u["currentModeId"] for u in client.updates(sid, "current_mode_update")]
        assert client.close() == 0
    assert chosen == ["Carry out this plan?"]  # auto-edit: the edit itself did not ask
    assert modes[-1] == "auto-edit"
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_acp_a_plan_edited_in_its_file_is_what_runs(calc_repo, tmp_path):
    from acp_client import running

    turns = [{"tool_calls": [READ]}, {"content": PLAN},
             {"tool_calls": [EDIT], "expect": ["approved plan", "Make add() add, and change nothing else",
                                               "Verify: pytest -q test_calc.py"]},
             {"content": "done"}]
    asked = []

    def answer(params):  # the user opens the plan's file in the editor, changes it, then approves
        asked.append(params["toolCall"])
        plan_file = Path(params["toolCall"]["locations"][0]["path"])
        text = plan_file.read_text()
        plan_file.write_text(text.replace("Make add() add", "Make add() add, and change nothing else")
                             .replace("2. Run the tests\n", "").replace("pytest -q", "pytest -q test_calc.py"))
        return "auto-edit"

    with running("--model", script(tmp_path / "s.json", turns), cwd=calc_repo, permission=answer) as client:
        sid = acp_plan_session(client, calc_repo)
        reply = client.prompt(sid, "fix add")
        assert "result" in reply and reply["result"]["stopReason"] == "end_turn", (reply, client.stderr[-20:])
        assert client.close() == 0
    [request] = asked
    assert f".wren/plans/{sid}.md" in request["content"][0]["content"]["text"]
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_plan_mode_runs_on_the_plan_model_and_the_plan_on_the_edit_model(calc_repo, tmp_path):
    plan_model = script(tmp_path / "plan.json", [{"content": PLAN, "expect": ["Plan mode"]}])
    edit_model = script(tmp_path / "edit.json", [{"tool_calls": [EDIT], "expect": ["approved plan"]},
                                                 {"content": "done"}])
    main = script(tmp_path / "main.json", [])  # no turns: a call on main would fail the run
    (calc_repo / "wren.toml").write_text(f'[models]\nplan = "{plan_model}"\nedit = "{edit_model}"\n')
    planned = wren("run", "--plan", "fix add", "--model", main, "--output-format", "json", cwd=calc_repo)
    assert planned.code == 0, planned.stderr
    assert set(planned.json["usage_by_role"]) == {"plan"}
    plan_file = tmp_path / "PLAN.json"
    plan_file.write_text(planned.stdout)
    done = wren("run", "--plan-file", str(plan_file), "--model", main, "--approval", "auto-edit",
                "--output-format", "json", cwd=calc_repo)
    assert done.code == 0, done.stderr
    assert set(done.json["usage_by_role"]) == {"edit"}
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


@pytest.mark.slow
def test_plan_mode_on_a_real_model_changes_nothing(calc_repo):
    run = wren("run", "--plan", "Fix the failing test in this repo", "--model", "local", "--approval", "auto",
               "--max-steps", "4", "--output-format", "json", cwd=calc_repo, timeout=900)
    assert run.json["error"] is None, run.stderr
    assert run.code in (0, 5), run.stderr  # a plan, or the step limit: a toy model may wander
    untouched(calc_repo)
    assert run.json["files_changed"] == []
    if run.code == 0:
        assert run.json["plan"]["text"]


def test_plan_files_a_person_or_a_failed_run_made_get_a_clear_answer(calc_repo, tmp_path):
    """What a plan file may hold besides a good plan: the result of a plan run that made none, a field of the
    wrong type, escapes of lone surrogates (valid JSON, no valid text), emptied steps; and no file name at all."""
    failed = wren("run", "--plan", "fix add", "--model", script(tmp_path / "empty.json", [{"content": ""}]),
                  "--output-format", "json", cwd=calc_repo)
    (tmp_path / "failed.json").write_text(failed.stdout)
    run = wren("run", "--plan-file", str(tmp_path / "failed.json"), cwd=calc_repo)
    assert run.code == 2 and "a result with no plan" in run.stderr and "wren run --plan" in run.stderr, run.stderr
    (tmp_path / "typed.json").write_text('{"steps": [{"content": "x"}], "files": "calc.py"}')
    run = wren("run", "--plan-file", str(tmp_path / "typed.json"), cwd=calc_repo)
    assert run.code == 2 and "(files: " in run.stderr, run.stderr
    run = wren("run", "--plan-file", "", "--model", script(tmp_path / "none.json", []), cwd=calc_repo)
    assert run.code == 2 and "--plan-file needs the path" in run.stderr, run.stderr
    odd = tmp_path / "odd.json"
    odd.write_text('{"steps": [{"content": "Make add() add \\udcff"}, {"content": "  "}], "request": "fix \\udcff"}')
    execute = script(tmp_path / "exec.json", [
        {"tool_calls": [EDIT], "expect": ["The request: fix \ufffd\n", "1. Make add() add \ufffd"]},
        {"content": "done"}])
    run = wren("run", "--plan-file", str(odd), "--model", execute, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["files_changed"] == ["calc.py"]
    said = next(e for e in logged_events(calc_repo, run.json["session_id"]) if e["type"] == "plan_resolved")
    assert [step["content"] for step in said["plan"]["steps"]] == ["Make add() add \ufffd"]  # the blank one dropped


def test_a_plan_given_as_text_is_shown_once_with_its_own_files_and_verify_lines():
    from wren.agent.plan import render_plan

    plan = parse_plan("Change calc.py so add adds.\nFiles: calc.py\nVerify: pytest -q", [])
    assert render_plan(plan).count("Files:") == 1 and render_plan(plan).count("Verify:") == 1
    moved = plan.model_copy(update={"files": ["calc.py", "test_calc.py"]})  # edited beside the text: said too
    assert render_plan(moved).endswith("Files: calc.py, test_calc.py")


def test_steps_already_done_are_marked_for_the_executor_and_read_back_as_done():
    from wren.agent.plan import execute_prompt, render_plan

    plan = ProposedPlan(steps=[PlanStep(content="Read calc.py", status="completed"), PlanStep(content="Fix add()")],
                        request="fix add")
    shown = render_plan(plan)
    assert "1. Read calc.py (already done)" in shown and "2. Fix add()\n" in shown + "\n"
    assert "1. Read calc.py (already done)" in execute_prompt(plan)
    again = parse_plan(shown, [])  # the TUI's edited text, and a plan given back as text
    assert [(s.content, s.status) for s in again.steps] == [("Read calc.py", "completed"), ("Fix add()", "pending")]
    assert parse_plan("1. (already done)", []).steps[0].content == "(already done)"  # a mark alone is a step's text
