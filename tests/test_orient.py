"""Orienting a careful session: the files a message names are read, and the tests it names run,
by Wren itself before the model's first step (agent/orient.py)."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import CALC
from test_session import READ_CALC, drive, make_session
from wren.agent.attempts import MAX_ATTEMPTS
from wren.agent.orient import local_imports, mentioned_files, orient_calls
from wren.tools.workspace import Workspace


def offered(narrowed: dict) -> dict[str, list[str]]:
    """The lines a narrowed edit_file schema offers as `old`, by path; each option's `new` must not be its `old`
    nor a fix of it already tried (a line's own option), or is free (a file's enum, past narrowing.UNEQUAL_CHARS)."""
    lines: dict[str, list[str]] = {}
    for option in narrowed["function"]["parameters"]["oneOf"]:
        props = option["properties"]
        if "const" in props["old"]:
            line, unlike = props["old"]["const"], props["new"]["not"]
            assert props["new"]["type"] == "string" and unlike in ({"const": line}, {"enum": [line, *unlike.get("enum", [])[1:]]})
        lines.setdefault(props["path"]["const"], []).extend(props["old"].get("enum", [props["old"].get("const")]))
    return lines


def write(root: Path, files: dict[str, str]) -> Workspace:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return Workspace(root)


def committed(root: Path, files: dict[str, str]) -> None:
    """`files` written under `root` and committed, as a git repository's first commit."""
    from conftest import git

    write(root, files)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")


def test_mentioned_files_are_the_existing_ones_inside_in_order(tmp_path):
    ws = write(tmp_path / "ws", {"src/app.py": "", "test_app.py": "", "README.md": ""})
    (tmp_path / "outside.py").write_text("")
    text = ("Fix src/app.py (see ./test_app.py and test_app.py, e.g. the README.md), not ../outside.py "
            "or missing.py or wren.toml.")
    assert mentioned_files(text, ws) == ["src/app.py", "test_app.py", "README.md"]


def test_local_imports_resolve_to_workspace_files_that_are_not_tests(tmp_path):
    ws = write(tmp_path, {
        "python_programs/gcd.py": "def gcd(a, b): ...\n",
        "python_testcases/load_testdata.py": "",
        "python_testcases/test_gcd.py": (
            "import os\nimport pytest\nfrom load_testdata import load\n"
            "if pytest.use_correct:\n    from correct_python_programs.gcd import gcd\n"
            "else:\n    from python_programs.gcd import gcd\n"),
        "pkg/__init__.py": "", "pkg/util.py": "", "pkg/sub/mod.py": "from .. import util\nfrom . import helper\n",
        "pkg/sub/helper.py": "", "broken.py": "def (:\n"})
    # load_testdata is a test helper (under python_testcases/), correct_python_programs does not exist.
    assert local_imports("python_testcases/test_gcd.py", ws) == ["python_programs/gcd.py"]
    assert local_imports("pkg/sub/mod.py", ws) == ["pkg/util.py", "pkg/sub/helper.py"]
    assert local_imports("broken.py", ws) == [] and local_imports("README.md", ws) == []


def test_tests_named_run_first_then_the_files_and_their_imports_are_read(calc_repo):
    ws = Workspace(calc_repo)
    calls = orient_calls("The test in test_calc.py fails; fix it.", ws, run_tests=True, prefix="w")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("w-1", "run_tests", {"target": "test_calc.py"}), ("w-2", "read_file", {"path": "test_calc.py"}),
        ("w-3", "read_file", {"path": "calc.py"})]
    assert [c.name for c in orient_calls("test_calc.py fails", ws, run_tests=False, prefix="w")] == ["read_file"] * 2
    assert orient_calls("Why does add subtract?", ws, run_tests=True, prefix="w") == []


def test_a_careful_session_shows_the_model_the_failing_run_and_the_code_first(calc_repo, tmp_path):
    fix = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
    s = make_session(calc_repo, tmp_path, [
        # The model's first prompt already holds the failing run and the code under test, but not the
        # test file: its failing line is in the report (a small model copied test lines into its edits).
        {"expect": ["Tests (pytest): 0 passed, 1 failed", "--- first failure ---", "return a - b"],
         "absent": ["def test_add"], "tool_calls": [fix]},
        # Wren tested the change itself: the model sees the passing run without a step of its own.
        # Every test file that failed passes: the step may only answer (Qwen edited on, and undid its fix).
        {"expect": ["Tests (pytest): 1 passed, 0 failed", "The tests pass now. Answer"],
         "content": "fixed add"}], mode="auto", careful=True)
    events = drive(s, "The test in test_calc.py fails. Fix the code.", lambda e: None)
    by_wren = [e for e in events if e.type == "assistant_message" and e.by == "wren"]
    assert [e.tool_calls[0].name for e in by_wren] == ["run_tests", "read_file", "run_tests"]
    assert json.loads(by_wren[1].tool_calls[0].arguments) == {"path": "calc.py"}
    result = events[-1]
    assert result.status == "success" and result.steps == 2  # Wren's own calls are not model steps
    assert s.backend.tool_choices[-1] == "none"
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_a_test_file_is_read_when_its_run_did_not_fail_or_was_not_understood(calc_repo, tmp_path):
    (calc_repo / "calc.py").write_text(CALC.replace("a - b", "a + b"))  # passing: the test file is read
    s = make_session(calc_repo, tmp_path, [{"content": "it passes"}], mode="auto", careful=True)
    events = drive(s, "Does test_calc.py pass?", lambda e: None)
    reads = [json.loads(e.tool_calls[0].arguments) for e in events
             if e.type == "assistant_message" and e.by == "wren" and e.tool_calls[0].name == "read_file"]
    assert reads == [{"path": "test_calc.py"}, {"path": "calc.py"}]


def test_sessions_that_are_not_careful_or_may_not_run_tests_orient_less(calc_repo, tmp_path):
    s = make_session(calc_repo, tmp_path, [{"content": "ok"}], mode="auto")
    events = drive(s, "The test in test_calc.py fails.", lambda e: None)
    assert not [e for e in events if e.type == "assistant_message" and e.by == "wren"]
    s = make_session(calc_repo, tmp_path, [{"content": "ok"}], mode="auto-edit", careful=True)
    events = drive(s, "The test in test_calc.py fails.", lambda e: None)  # run_tests would ask: not run
    assert [e.tool_calls[0].name for e in events if e.type == "assistant_message" and e.by == "wren"] == [
        "read_file", "read_file"]
    assert not [e for e in events if e.type == "approval_requested"]


def test_a_change_that_makes_fewer_tests_pass_is_put_back_in_careful_sessions(tmp_path, monkeypatch):
    monkeypatch.setattr("wren.agent.careful.FAILED_FIXES", 9)  # the model runs the tests and fixes again in one attempt
    repo = tmp_path / "repo"
    calc = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    committed(repo, {"calc.py": calc, "test_calc.py": "from calc import add, sub\n\n\ndef test_add():\n"
                     "    assert add(2, 3) == 5\n\n\ndef test_sub():\n    assert sub(3, 2) == 1\n"})
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "def sub(a, b):\n    return a - b",
                                                "new": "def sub(a, b):\n    return b - a"}}
    right = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "def add(a, b):\n    return a - b",
                                                "new": "def add(a, b):\n    return a + b"}}
    tests = {"name": "run_tests", "arguments": {}}
    s = make_session(repo, tmp_path, [
        {"tool_calls": [tests]}, {"tool_calls": [READ_CALC]}, {"tool_calls": [wrong]}, {"tool_calls": [tests]},
        {"expect": ["Wren put back calc.py as they were at your previous run_tests", "(0 now, 1 before)"],
         "tool_calls": [right]},
        {"tool_calls": [tests]}, {"content": "fixed add"}], mode="auto", careful=True)
    events = drive(s, "fix add", lambda e: None)
    assert events[-1].status == "success"
    assert (repo / "calc.py").read_text() == calc.replace("return a - b", "return a + b", 1)
    # Not careful: the model's change stands, whatever the tests say.
    write(repo, {"calc.py": calc})
    s = make_session(repo, tmp_path, [{"tool_calls": [tests]}, {"tool_calls": [wrong]}, {"tool_calls": [tests]},
                                      {"content": "done"}], mode="auto")
    drive(s, "fix add", lambda e: None)
    assert "return b - a" in (repo / "calc.py").read_text()



def test_a_stuck_attempt_over_failing_tests_starts_fresh_from_the_turns_files(calc_repo, tmp_path, monkeypatch):
    monkeypatch.setattr("wren.agent.careful.FAILED_FIXES", 9)  # the attempt goes on after its failed fix, to get stuck
    monkeypatch.setattr("wren.agent.careful.REFUSED_EDITS", 9)  # its failed edits do not end it either
    from wren.agent.limits import Limits

    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    stray = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "nothing like this", "new": "x"}}
    s = make_session(calc_repo, tmp_path, [
        # Attempt 1 (after Wren's run_tests and reads): a wrong fix, then stuck repeating an edit that fails.
        {"tool_calls": [wrong]}, {"tool_calls": [stray]}, {"tool_calls": [stray]}, {"tool_calls": [stray]},
        # Attempt 2 starts from the original files, told what failed, with the failing run shown again.
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "It changed calc.py, which did not work.",
                    "Tests (pytest): 0 passed, 1 failed"],
         "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                           "new": "return a + b"}}]},
        # Wren's run of the tests passes: the next step may only answer.
        {"content": "fixed add"}], mode="auto", careful=True, limits=Limits(max_steps=12))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    (restart,) = [e for e in events if e.type == "attempt_restarted"]
    assert restart.number == 2 and restart.reason.startswith("it was stuck: repeating")
    assert events[-1].status == "success" and events[-1].steps == 6 and events[-1].files_changed == ["calc.py"]
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    # The log keeps the first attempt; a resumed session rebuilds the context without it.
    from wren.core.log import read_events, sessions_dir
    from wren.context.manager import ContextManager, replay

    ctx = ContextManager("system")
    replay(ctx, read_events(sessions_dir(calc_repo) / f"{s.id}.jsonl"))
    calls = [c.name for m in ctx.messages for c in m.tool_calls]
    # Wren's run and read stay from before attempt 1; then the fix and Wren's test of it.
    assert calls == ["run_tests", "read_file", "edit_file", "run_tests"]
    # Wren's note that started attempt 2 is in the context, but it is not one of the user's directives.
    assert any(m.content.startswith("[Wren] Attempt 2") for m in ctx.messages)
    assert ctx.directives == ["The test in test_calc.py fails; fix calc.py."]


def test_the_tui_context_view_drops_a_restarted_attempt():
    from wren.core.events import AssistantMessage, AttemptRestarted, ToolResultEvent, UserMessage
    from wren.tui.state import ViewState

    view = ViewState()
    for event in [UserMessage(text="fix it"), AssistantMessage(content="", tool_calls=[]),
                  ToolResultEvent(call_id="c", name="grep", ok=True, output="x"),
                  AttemptRestarted(number=2, dropped=2, reason="stuck"), UserMessage(text="[Wren] Attempt 2")]:
        view.apply(event)
    assert [item.text for item in view.items] == ["fix it", "[Wren] Attempt 2"]


def test_a_fresh_attempt_still_starts_after_a_compaction_in_the_attempt(calc_repo, tmp_path):
    (calc_repo / "notes.txt").write_text("".join(f"note line {i}: nothing about add here\n" for i in range(400)))
    grep = {"name": "grep", "arguments": {"pattern": "nothing like this"}}
    fix = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"window": 4500, "turns": [
        # No test named: Wren reads calc.py, and the model runs the tests itself (so its steps are free).
        {"tool_calls": [{"name": "run_tests"}]},
        # Pages of notes.txt fill the window (a result's room is a share of it: ContextService.result_room).
        *[{"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt", "start_line": line}}]}
          for line in (1, 60, 120, 180)],
        {"tool_calls": [grep]}, {"tool_calls": [grep]}, {"tool_calls": [grep]},
        # The compaction evicted the turn's message: the fresh attempt's note restates the task.
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "The task, as the user gave it: The add test fails; fix calc.py."],
         "absent": ["note line 5:"], "tool_calls": [fix]},
        {"tool_calls": [{"name": "run_tests"}]}, {"content": "fixed"}]}))
    compacted_then_fixed(calc_repo, script, "The add test fails; fix calc.py.")


def compacted_then_fixed(calc_repo, script, text):
    """Run a careful session on a scripted model with a window (the script's), check that a compaction came
    before the fresh attempt and that add was fixed; returns (session, events)."""
    from wren.agent.approval import Policy
    from wren.agent.limits import Limits
    from wren.agent.models.scripted import ScriptedBackend
    from wren.core.ops import Shutdown, UserInput
    from wren.agent.session import Session, SessionConfig
    from wren.tools.base import default_registry

    s = Session(SessionConfig(root=calc_repo, backend=ScriptedBackend(script), registry=default_registry(),
                              policy=Policy(mode="auto"), careful=True, limits=Limits(max_steps=12)))
    s.submit(UserInput(text=text))
    s.submit(Shutdown())
    events = list(s.events())
    kinds = [e.type for e in events]
    assert "context_compacted" in kinds and kinds.index("context_compacted") < kinds.index("attempt_restarted")
    assert events[-1].status == "success" and (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    return s, events


def test_a_failed_fix_starts_a_fresh_attempt_that_reuses_the_orienting(calc_repo, tmp_path):
    from wren.agent.attempts import FAILED_FIXES, LINE_TRIES
    from wren.agent.limits import Limits

    def edit(old: str, new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}

    assert FAILED_FIXES == 1 and LINE_TRIES == 2  # the script below: two failed fixes of one line
    s = make_session(calc_repo, tmp_path, [
        # Attempt 1: a wrong theory, tested by Wren at once (no run_tests step of the model's).
        {"tool_calls": [edit("return a - b", "return a * b")]},
        # Attempt 2 starts from the original files, after the same orienting run and read, told what failed.
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "its change left the tests failing",
                    "It changed calc.py, which did not work."],
         "absent": ["assert 6 == 5", "a * b"], "tool_calls": [edit("return a - b", "return a ** b")]},
        {"expect": [f"Attempt 3 of {MAX_ATTEMPTS}"], "absent": ["a ** b"], "tool_calls": [edit("a - b", "a + b")]},
        {"content": "fixed add"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    restarts = [e for e in events if e.type == "attempt_restarted"]
    # Each dropped its edit and Wren's run of the tests, each a call and its result (and attempt 2, its note).
    assert [(r.number, r.dropped) for r in restarts] == [(2, 4), (3, 5)]
    by_wren = [e.tool_calls[0].name for e in events if e.type == "assistant_message" and e.by == "wren"]
    assert by_wren == ["run_tests", "read_file", "run_tests", "run_tests", "run_tests"]  # oriented once
    assert events[-1].status == "success" and events[-1].steps == 4
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    from wren.core.backend import choice_name

    # While the tests fail, every step of an attempt but the last may only edit (or answer); once they pass,
    # only answer.
    assert [choice_name(c) for c in s.backend.tool_choices] == ["edit_file", "edit_file", "edit_file", "none"]
    # Each attempt's reason opens with the orienting run's first failure (the files are as it found them).
    from wren.local_models.formats import OPENING_KEY

    assert [c["function"][OPENING_KEY] for c in s.backend.tool_choices[:3]] == [
        "In the failing test, `add(2, 3)` returned -1, expected 5; it returned at line 2 `return a - b`. "
        "This happens because"] * 3
    # The line two failed fixes changed is not offered to attempt 3 (Qwen changed one line in all its fixes).
    offered = [[o["properties"]["old"]["const"] for o in choice["function"]["parameters"]["oneOf"]]
               for choice in s.backend.tool_choices[:3]]
    assert offered == [["def add(a, b):", "return a - b"]] * 2 + [["def add(a, b):"]]
    # In attempt 2, `new` of that line may be neither the line nor the fix already tried on it.
    second = s.backend.tool_choices[1]["function"]["parameters"]["oneOf"][1]["properties"]
    assert second["new"] == {"type": "string", "not": {"enum": ["return a - b", "return a * b"]}}
    # A local model's grammar is narrowed further: the file orienting read, `old` one of its lines.
    # `new` may be anything but `old` (Qwen restated lines as fixes); a block opener's ends at its colon.
    from wren.local_models.headers import HEADER

    narrowed = s.backend.tool_choices[0]["function"]["parameters"]
    assert narrowed == {"oneOf": [{"type": "object", "properties": {
        "path": {"const": "calc.py"}, "old": {"const": line}, "new": {"type": "string", "not": {"const": line}, **end}},
        "required": ["path", "old", "new"], "additionalProperties": False}
        for line, end in (("def add(a, b):", {HEADER: True}), ("return a - b", {}))]}


def test_a_line_left_out_after_failed_fixes_is_offered_again_after_its_rest(calc_repo, tmp_path):
    """Left out for good, the right line was shut out by two wrong fixes of it (Qwen on gcd edited the other
    lines until the time limit): it sits out LINE_REST attempts, then comes back with its tried fixes refused."""
    from wren.agent.attempts import LINE_REST, LINE_TRIES
    from wren.agent.limits import Limits

    def edit(old: str, new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}

    assert LINE_TRIES == 2 and LINE_REST == 2  # the script below: two failed fixes, then two attempts' rest
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a * b")]},
        {"tool_calls": [edit("return a - b", "return a ** b")]},
        {"tool_calls": [edit("def add(a, b):", "def add(b, a):")]},  # attempts 3 and 4: the line rests
        {"tool_calls": [edit("def add(a, b):", "def add(a, b=0):")]},
        {"expect": ["Attempt 5 of"], "tool_calls": [edit("return a - b", "return a + b")]},
        {"content": "fixed add"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert events[-1].status == "success" and (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    lines = [offered(choice)["calc.py"] for choice in s.backend.tool_choices[:5]]
    both = ["def add(a, b):", "return a - b"]
    # Attempt 5: back, with the fixes tried on it refused; `def add` rests now (its two fixes failed).
    assert lines == [both, both, ["def add(a, b):"], ["def add(a, b):"], ["return a - b"]]
    back = s.backend.tool_choices[4]["function"]["parameters"]["oneOf"][0]["properties"]["new"]
    assert back["not"] == {"enum": ["return a - b", "return a * b", "return a ** b"]}
    assert s.attempt.resting == {("calc.py", "def add(a, b):"): 6, ("calc.py", "return a - b"): 4}


def test_a_turn_whose_attempts_all_failed_ends_failed_whatever_the_model_says(calc_repo, tmp_path, monkeypatch):
    from wren.agent.limits import Limits

    # Qwen, its 12 attempts at kth put back, answered "I ran the tests again, and they passed" (exit 0).
    monkeypatch.setattr("wren.agent.careful.MAX_ATTEMPTS", 2)
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [wrong]},  # tested by Wren: failing, so attempt 2 (the last) starts from the files as they were
        {"expect": ["Attempt 2 of"], "content": "I fixed it and the tests pass."}],
        mode="auto", careful=True, limits=Limits(max_steps=10))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    result, (ended,) = events[-1], [e for e in events if e.type == "turn_ended"]
    assert result.status == "failed" and result.exit_code == 1 and result.summary == "I fixed it and the tests pass."
    assert ended.reason == "the tests still fail: 2 attempts at a fix, each put back"
    assert (calc_repo / "calc.py").read_text() == CALC


def test_a_first_step_told_to_edit_may_not_search_first(calc_repo, tmp_path):
    grep = {"name": "grep", "arguments": {"pattern": "return a - b"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}], mode="auto", careful=True)
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert events[-1].status == "error" and "tool_choice was 'edit_file'" in events[-1].summary
    # Without a failing run to show (none named, or tests that pass), the first step is free.
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}, {"content": "found it"}], mode="auto", careful=True)
    assert drive(s, "Where does calc.py subtract?", lambda e: None)[-1].status == "success"
    assert s.backend.tool_choices == ["auto", "auto"]


def test_a_change_to_code_the_failing_tests_do_not_import_is_told_so(calc_repo, tmp_path, monkeypatch):
    monkeypatch.setattr("wren.agent.careful.MAX_ATTEMPTS", 1)  # the last attempt: its steps after the first are free
    (calc_repo / "util.py").write_text("def helper():\n    return 1\n")
    (calc_repo / "calc.py").write_text("from util import helper\n\n\n" + CALC)
    (calc_repo / "other.py").write_text("def mul(a, b):\n    return a - b\n")
    edits = [{"name": "edit_file", "arguments": {"path": "util.py", "old": "return 1", "new": "return 2"}},
             {"name": "edit_file", "arguments": {"path": "other.py", "old": "return a - b", "new": "return a * b"}}]
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [edits[0]]},  # util.py: imported through calc.py, so no note
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "other.py"}}]},
        {"tool_calls": [edits[1]]}, {"content": "could not fix it"}], mode="auto", careful=True)
    events = drive(s, "The test in test_calc.py fails; fix it.", lambda e: None)
    results = {e.call_id: e.output for e in events if e.type == "tool_result"}
    made = [c for e in events if e.type == "assistant_message" and e.by == "model" for c in e.tool_calls]
    assert "do not import" not in results[made[0].id]
    assert "The failing tests do not import other.py (they import calc.py, util.py)" in results[made[2].id]
    assert s.backend.tool_choices[0] == "auto"  # the last attempt has every tool from its first step


def test_every_test_file_that_failed_is_run_again_before_the_model_hears_the_tests_pass(calc_repo, tmp_path):
    (calc_repo / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n")
    (calc_repo / "test_mul.py").write_text("from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n")
    fix_mul = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a + b", "new": "return a * b"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [fix_mul]},
        # test_mul.py passes, test_calc.py (also failing when Wren oriented) is run again and still fails.
        {"absent": ["The tests pass now"], "expect": ["Tests (pytest): 0 passed, 1 failed"], "content": "fixed"},
        *[{"content": "I fixed mul only"}] * 4], mode="auto", careful=True)
    events = drive(s, "test_calc.py and test_mul.py fail; fix calc.py.", lambda e: None)
    runs = [json.loads(c.arguments).get("target") for e in events if e.type == "assistant_message" and e.by == "wren"
            for c in e.tool_calls if c.name == "run_tests"]
    assert runs[:4] == ["test_calc.py", "test_mul.py", "test_mul.py", "test_calc.py"]
    assert events[-1].status != "success"  # fresh attempts, then the turn ends with test_calc.py failing


def test_a_fresh_attempt_after_a_compaction_with_a_named_test_orients_again(calc_repo, tmp_path, monkeypatch):
    monkeypatch.setattr("wren.agent.careful.FAILED_FIXES", 2)  # two fixes in attempt 1, a compaction between them
    big = "x = 1\n" + "".join(f"# filler line {i} nothing about add here\n" for i in range(200))
    def edit(old: str, new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"window": 4600, "turns": [
        {"tool_calls": [edit("return a - b", "return a * b")]},
        {"tool_calls": [edit("not in the file", big)]},  # fills the window, changes nothing
        {"tool_calls": [edit("return a * b", "return a ** b")]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "0 passed, 1 failed", "return a - b"],
         "tool_calls": [edit("return a - b", "return a + b")]},
        {"content": "fixed"}]}))
    from wren.core.backend import choice_name

    s, events = compacted_then_fixed(calc_repo, script, "The test in test_calc.py fails; fix calc.py.")
    made = [c.name for e in events if e.type == "assistant_message" and e.by == "wren" for c in e.tool_calls]
    assert made.count("read_file") == 2  # oriented again: the compaction took the first orienting
    assert [choice_name(c) for c in s.backend.tool_choices] == ["edit_file"] * 4 + ["none"]  # passing: answer
