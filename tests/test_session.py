"""The session API in-process: ops in, events out, interactive approvals, interrupts."""
from __future__ import annotations

import json
import os
import threading

from conftest import CALC, processes_with, wait_until
from wren.agent.approval import Policy
from wren.agent.limits import Limits, LimitState
from wren.agent.models.scripted import ScriptedBackend
from wren.core.ops import ApprovalDecision, Interrupt, Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.core.log import read_events, sessions_dir
from wren.tools.base import default_registry

EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
READ_CALC = {"name": "read_file", "arguments": {"path": "calc.py"}}
EDIT_BACK = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a + b", "new": "return a * b"}}


def make_session(repo, tmp_path, turns, mode="ask", **config):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    return Session(SessionConfig(root=repo, backend=ScriptedBackend(script), registry=default_registry(),
                                 policy=Policy(mode=mode), interactive=True, **config))


def drive(session, text, answer):
    """Run one turn, answering each approval request with answer(event); returns all events."""
    session.submit(UserInput(text=text))
    session.submit(Shutdown())
    seen = []
    for event in session.events():
        seen.append(event)
        if event.type == "approval_requested":
            session.submit(answer(event))
    return seen


def test_allow_once_applies_the_edit(calc_repo, tmp_path):
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [EDIT]}, {"content": "done"}])
    events = drive(s, "fix", lambda e: ApprovalDecision(call_id=e.call_id, decision="allow_once"))
    assert [e.type for e in events].count("approval_requested") == 1
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert events[-1].type == "result" and events[-1].status == "success"


def test_deny_sends_the_message_to_the_model(calc_repo, tmp_path):
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [EDIT]},
                                           {"content": "ok, I will not", "expect": ["use multiplication instead"]}])
    events = drive(s, "fix", lambda e: ApprovalDecision(call_id=e.call_id, decision="deny",
                                                        message="use multiplication instead"))
    assert (calc_repo / "calc.py").read_text() == CALC
    assert events[-1].status == "denied" and events[-1].error is None


def test_allow_always_stops_asking(calc_repo, tmp_path):
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [EDIT]}, {"tool_calls": [EDIT_BACK]}, {"content": "done"}])
    events = drive(s, "fix", lambda e: ApprovalDecision(call_id=e.call_id, decision="allow_always"))
    assert [e.type for e in events].count("approval_requested") == 1
    assert "a * b" in (calc_repo / "calc.py").read_text()


def _interrupt_once_running(session: Session, marker: str) -> None:
    """Interrupt when the command runs: an interrupt that came first would skip it, not kill it."""
    wait_until(lambda: processes_with(marker, below=os.getpid()))
    session.submit(Interrupt())


def test_interrupt_kills_a_running_command_and_the_session_goes_on(calc_repo, tmp_path):
    # A day-long sleep: only a kill ends it, so the tool result cannot come from the command finishing.
    shell = {"name": "shell", "arguments": {"command": "sleep 86414"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [shell]}, {"content": "second turn answer"}], mode="auto")
    s.submit(UserInput(text="wait"))
    events = []
    for event in s.events():
        events.append(event)
        if event.type == "approval_requested":  # no sandbox on this machine: auto mode asks before running it
            s.submit(ApprovalDecision(call_id=event.call_id, decision="allow_once"))
        if event.type == "tool_call":
            threading.Thread(target=_interrupt_once_running, args=(s, "sleep 86414"), daemon=True).start()
        if event.type == "result":
            break
    assert events[-1].status == "interrupted" and events[-1].exit_code == 130
    tool_result = next(e for e in events if e.type == "tool_result")
    assert "killed: interrupted" in tool_result.output and tool_result.exit_code is None
    wait_until(lambda: not processes_with("sleep 86414", below=os.getpid()))
    s.submit(UserInput(text="go on"))
    s.submit(Shutdown())
    rest = list(s.events())
    assert rest[-1].type == "result" and rest[-1].status == "success"
    assert rest[-1].summary == "second turn answer"


def test_set_approval_mode_applies_to_the_next_call(calc_repo, tmp_path):
    from wren.core.ops import SetApprovalMode

    s = make_session(calc_repo, tmp_path, [{"tool_calls": [EDIT]}, {"content": "done"}], mode="read-only")
    s.submit(SetApprovalMode(mode="auto-edit"))
    events = drive(s, "fix", lambda e: ApprovalDecision(call_id=e.call_id, decision="deny"))
    assert "approval_requested" not in [e.type for e in events]
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_manual_compaction_and_its_undo(calc_repo, tmp_path):
    from wren.core.ops import Compact, UndoCompaction

    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [read]}, {"content": "read it"},
                                           {"content": "second"}, {"content": "third"}], mode="auto")
    s.submit(UserInput(text="read calc.py"))
    s.submit(UserInput(text="and then?"))
    s.submit(Compact())
    events = []
    for event in s.events():
        events.append(event)
        if event.type == "context_compacted":
            break
    compacted = events[-1]
    assert compacted.reason == "manual" and compacted.evicted == 4  # the first turn: user, call, result, answer
    prompt = "\n".join(m.content for m in s.context.manager.prompt())
    assert "return a - b" not in prompt and "read calc.py" in prompt  # the directive stays pinned
    assert "return a - b" in s.context.recall("add function", 3)
    s.submit(UndoCompaction())
    s.submit(UserInput(text="last"))
    s.submit(Shutdown())
    rest = list(s.events())
    assert rest[0].type == "compaction_undone" and rest[0].restored == 4
    assert "return a - b" in "\n".join(m.content for m in s.context.manager.prompt())


def test_a_tool_that_raises_ends_the_turn_with_an_internal_error_and_a_result(calc_repo, tmp_path):
    from pydantic import BaseModel

    from wren.tools.base import Registry, Tool

    class NoArgs(BaseModel):
        pass

    def explode(args, ctx):
        raise ValueError("boom in a tool double")

    boom = Tool("boom", "raises", NoArgs, explode, mutating=False)
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [{"tool_calls": [{"name": "boom", "arguments": {}}]},
                                            {"content": "never reached"}]}))
    registry = Registry([*default_registry().tools.values(), boom])
    s = Session(SessionConfig(root=calc_repo, backend=ScriptedBackend(script), registry=registry))
    events = drive(s, "go", lambda e: None)
    errors = [e for e in events if e.type == "error" and e.kind == "internal"]
    assert errors and "boom in a tool double" in errors[0].message and "explode" in errors[0].detail
    result = events[-1]
    assert result.type == "result" and result.status == "error" and result.exit_code == 1
    logged = read_events(sessions_dir(calc_repo) / f"{s.id}.jsonl")
    assert [e.type for e in logged if e.type in ("error", "result")] == ["error", "result"]


def test_a_repeated_call_is_pointed_out_then_ends_the_turn(calc_repo, tmp_path):
    grep = {"name": "grep", "arguments": {"pattern": "no such text anywhere"}}
    spaced = {"name": "grep", "arguments": '{"pattern":  "no such text anywhere"}'}  # same call, other spacing
    # The third time, the model gets one step that may only answer (a scripted call there is refused).
    wrap_up = {"expect": ["You are going in circles (repeating: the same grep call with the same result 3 times"]}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}, {"tool_calls": [spaced]}, {"tool_calls": [grep]},
                                           {**wrap_up, "content": "It is not in this repository."}])
    events = drive(s, "find it", lambda e: None)
    outputs = [e.output for e in events if e.type == "tool_result"]
    assert len(outputs) == 3
    assert "same call" not in outputs[0] and "You made this same call before and got the same result" in outputs[1]
    result = events[-1]
    assert result.status == "success" and result.steps == 4 and result.summary == "It is not in this repository."
    # A model that calls a tool in that step anyway (a provider that ignores tool_choice) is an error.
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}] * 4)
    result = drive(s, "find it", lambda e: None)[-1]
    assert result.exit_code == 3 and "tool_choice was 'none'" in result.summary
    # Stuck on the last step allowed: the step limit stands, and no wrap-up message is left in the context.
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}] * 3, limits=Limits(max_steps=3))
    events = drive(s, "find it", lambda e: None)
    assert events[-1].summary == "step limit reached (3 model calls)"
    assert not [e for e in events if e.type == "user_message" and "going in circles" in e.text]


def test_a_backend_that_takes_no_tool_choice_is_not_given_a_wrap_up_step(calc_repo, tmp_path):
    class Bare(ScriptedBackend):  # written to the bare ModelBackend protocol
        def complete(self, messages, tools, on_delta):
            return super().complete(messages, tools, on_delta)

    grep = {"name": "grep", "arguments": {"pattern": "no such text anywhere"}}
    script = tmp_path / "bare.json"
    script.write_text(json.dumps({"turns": [{"tool_calls": [grep]}] * 3 + [{"content": "never reached"}]}))
    s = Session(SessionConfig(root=calc_repo, backend=Bare(script), registry=default_registry(),
                              policy=Policy(mode="ask"), interactive=True))
    result = drive(s, "find it", lambda e: None)[-1]
    assert result.status == "limit" and result.exit_code == 5 and result.summary.startswith("repeating:")


def test_stuck_again_after_the_wrap_up_step_ends_the_turn(calc_repo, tmp_path):
    # The answer over an untested change is sent back to the tests (careful); going round again then ends it.
    same = {"name": "grep", "arguments": {"pattern": "return a"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [READ_CALC]}, {"tool_calls": [EDIT]}, *[{"tool_calls": [same]}] * 3,
        {"expect": ["You are going in circles"], "content": "fixed"},
        {"expect": ["have not passed since"], "tool_calls": [same]}, {"content": "never reached"}],
        mode="auto", careful=True, limits=Limits(max_steps=20))
    result = drive(s, "fix add", lambda e: None)[-1]
    assert result.status == "limit" and result.exit_code == 5 and result.steps == 7
    assert result.summary.startswith("repeating: the same grep call with the same result 4 times")


def test_a_repeated_search_is_answered_with_the_call_to_make_instead(calc_repo, tmp_path):
    # Qwen grepped three times a pattern whose matches it already had; the note names the next call.
    grep = {"name": "grep", "arguments": {"pattern": "return a - b"}}
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [grep]}, {"tool_calls": [grep]}, {"tool_calls": [read]},
                                           {"tool_calls": [read]}, {"content": "add subtracts"}])
    outputs = [e.output for e in drive(s, "why does add fail?", lambda e: None) if e.type == "tool_result"]
    assert "give your final answer now; else call read_file with path 'calc.py' and start_line 1" in outputs[1]
    assert "The file's content is above: edit it, or answer from it." in outputs[3]
    assert "read_file with path" not in outputs[0] and "content is above" not in outputs[2]


def test_a_call_repeated_with_others_between_and_no_change_is_a_loop_too(calc_repo, tmp_path):
    # Qwen alternated an edit that could not apply with a test run whose timings differ, to the time limit.
    same = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a - b"}}
    tests = {"name": "run_tests"}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [READ_CALC]}, {"tool_calls": [same]},
                                           {"tool_calls": [tests]}, {"tool_calls": [same]}, {"tool_calls": [tests]},
                                           {"tool_calls": [same]},
                                           {"expect": ["repeating: the same edit_file call with the same result 3 "
                                                       "times with no file changed in between"],
                                            "content": "The edit does not apply."}], mode="auto")
    result = drive(s, "fix add", lambda e: None)[-1]
    assert result.summary == "The edit does not apply." and result.steps == 7
    # A file changed in between: the same test run twice after different edits is not a loop.
    edits = [{"name": "edit_file", "arguments": {"path": "calc.py", "old": f"return a {x} b", "new": f"return a {y} b"}}
             for x, y in (("-", "*"), ("*", "-"), ("-", "*"))]
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [READ_CALC]}] + [
        turn for edit in edits for turn in ({"tool_calls": [edit]}, {"tool_calls": [tests]})] + [{"content": "no"}],
        mode="auto")
    assert drive(s, "fix add", lambda e: None)[-1].steps == 8


def test_a_search_asked_again_for_more_results_is_a_repeat(calc_repo, tmp_path):
    # Qwen searched `kth` with k = 1, 2, ... 6: each call new to a guard that compared all arguments.
    search = [{"name": "search_code", "arguments": {"query": "add", "k": k}} for k in (1, 2, 3)]
    grep = [{"name": "grep", "arguments": {"pattern": "add", "context": n}} for n in (0, 2)]
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [call]} for call in search] + [
        {"expect": ["repeating: the same search_code call with the same result 3 times"], "content": "in calc.py"}])
    events = drive(s, "where is add?", lambda e: None)
    assert "You made this same call before" in [e.output for e in events if e.type == "tool_result"][1]
    assert events[-1].summary == "in calc.py" and events[-1].steps == 4
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [call]} for call in grep] + [{"content": "ok"}])
    assert "You made this same call before" in [e.output for e in drive(s, "grep", lambda e: None)
                                                 if e.type == "tool_result"][1]
    # Another tool's argument of the same name is part of the question (an MCP tool's `context`).
    state = LimitState(Limits())
    assert [state.note_call("mcp_ask", json.dumps({"context": c}), c.upper()) for c in ("a", "b", "c")] == [1, 1, 1]


def test_a_repeat_with_a_new_result_is_not_a_loop(calc_repo, tmp_path):
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [read]}, {"tool_calls": [EDIT]}, {"tool_calls": [read]},
                                           {"tool_calls": [read]}, {"content": "done"}], mode="auto-edit")
    events = drive(s, "fix", lambda e: None)
    assert events[-1].status == "success"
    assert "same call" in [e.output for e in events if e.type == "tool_result"][-1]


def test_an_edit_to_a_test_file_is_pointed_out_and_flagged_in_the_result(calc_repo, tmp_path):
    weaken = {"name": "edit_file", "arguments": {"path": "test_calc.py", "old": "assert", "new": "assert True or"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [weaken]}, {"content": "done"}], mode="auto-edit")
    events = drive(s, "make the tests pass", lambda e: None)
    assert "test_calc.py is a test file" in [e.output for e in events if e.type == "tool_result"][0]
    assert events[-1].tests_changed == ["test_calc.py"] == events[-1].files_changed


def test_a_test_edit_is_refused_when_the_user_said_not_to_change_the_tests(calc_repo, tmp_path):
    # Qwen on QuixBugs' hanoi wrote the program over its test file after "Do not change the tests."
    weaken = {"name": "edit_file", "arguments": {"path": "./test_calc.py", "old": "assert", "new": "assert True or"}}
    over = {"name": "write_file", "arguments": {"path": "test_calc.py", "content": "def test_add():\n    pass\n"}}
    before = (calc_repo / "test_calc.py").read_text()
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [weaken]}, {"tool_calls": [over]}, {"tool_calls": [EDIT]},
                                           {"content": "fixed add"}], mode="auto")
    events = drive(s, "Fix add in calc.py. Don't modify the tests.", lambda e: None)
    outputs = [e.output for e in events if e.type == "tool_result"]
    assert all(o.startswith("Error: test_calc.py is a test file, and the user asked you not to change the tests")
               for o in outputs[:2])
    assert (calc_repo / "test_calc.py").read_text() == before and events[-1].tests_changed == []
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")  # code edits still run
    # A new test file changes no test; the directive stands for the session's later turns.
    new = {"name": "write_file", "arguments": {"path": "test_more.py", "content": "def test_more():\n    pass\n"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [new]}, {"content": "added"},
                                           {"tool_calls": [weaken]}, {"content": "no"}], mode="auto")
    s.submit(UserInput(text="Add a test for add(); do not change the existing tests."))
    events = drive(s, "go on", lambda e: None)
    outputs = [e.output for e in events if e.type == "tool_result"]
    assert outputs[0].startswith("Created test_more.py") and "asked you not to change the tests" in outputs[1]


def test_the_keep_tests_directive_is_read_in_its_usual_wordings():
    from wren.agent.directives import keeps_tests

    for said in ("Do not change the tests.", "don't modify any test files", "Never edit tests",
                 "fix it without touching the existing tests", "Do not change the tests in tests/",
                 "without changing the tests", "Don\u2019t change the tests.", "Do not change any of the tests.",
                 "Don't modify the failing test.", "The tests must not be modified.", "Leave the tests unchanged."):
        assert keeps_tests(said), said
    for said in ("Fix the failing tests.", "Change the test to expect 5", "do not change the API"):
        assert not keeps_tests(said), said


def test_an_answer_after_an_untested_or_failing_change_is_sent_back_twice_at_most(calc_repo, tmp_path, monkeypatch):
    monkeypatch.setattr("wren.agent.careful.FAILED_FIXES", 9)  # no fresh attempt after the failed run
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [EDIT]}, {"tool_calls": [READ_CALC]}, {"tool_calls": [wrong]}, {"content": "fixed"},
        {"expect": ["have not passed since. Run them with run_tests"], "tool_calls": [{"name": "run_tests"}]},
        {"content": "fixed now"},
        {"expect": ["The tests still fail after your change to calc.py"], "content": "I could not fix it"}],
        mode="auto", careful=True, limits=Limits(max_steps=8))  # too few steps left for a fresh attempt
    events = drive(s, "fix add", lambda e: None)
    results = [e.output for e in events if e.type == "tool_result"]
    assert results[0].startswith("Error: calc.py has not been read in this session; call read_file with path")
    asked = [e.text for e in events if e.type == "user_message"][1:]
    assert len(asked) == 2 and "you changed calc.py" in asked[0] and "still fail" in asked[1]
    assert events[-1].summary == "I could not fix it" and events[-1].steps == 7


def test_an_answer_claiming_a_fix_after_edits_that_all_failed_is_sent_back(calc_repo, tmp_path):
    # Qwen on QuixBugs: both its edits failed ("old text not found"), then it answered "the test now passes".
    missing = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a / b", "new": "return a + b"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "run_tests"}]}, {"tool_calls": [READ_CALC]}, {"tool_calls": [missing]},
        {"content": "fixed, the test passes"},
        {"expect": ["No file has changed: your edits failed"], "content": "I could not fix it"}],
        mode="auto", careful=True, limits=Limits(max_steps=6))
    events = drive(s, "fix add", lambda e: None)
    assert events[-1].summary == "I could not fix it" and events[-1].steps == 5
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [{"name": "run_tests"}]}, {"content": "test_add fails"}],
                     mode="auto", careful=True)
    assert drive(s, "which test fails?", lambda e: None)[-1].steps == 2  # no edit tried: the answer stands


def test_a_turn_whose_changes_leave_the_tests_failing_ends_failed_whatever_the_model_says(calc_repo, tmp_path):
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    tests = {"name": "run_tests"}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [wrong]}, {"tool_calls": [tests]},
                                           {"content": "fixed, the tests pass"}], mode="auto")
    result = drive(s, "fix add", lambda e: None)[-1]
    assert result.status == "failed" and result.exit_code == 1 and result.summary == "fixed, the tests pass"
    # Changed after the failing run and not run again: unknown, so the answer stands.
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [tests]}, {"tool_calls": [EDIT]}, {"content": "fixed"}],
                     mode="auto")
    assert drive(s, "fix add", lambda e: None)[-1].status == "success"


def test_no_test_run_is_asked_for_when_nothing_changed_or_tests_cannot_run(calc_repo, tmp_path):
    s = make_session(calc_repo, tmp_path, [{"content": "calc.py subtracts"}], mode="auto", careful=True)
    assert drive(s, "what does add do?", lambda e: None)[-1].steps == 1
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [READ_CALC]}, {"tool_calls": [EDIT]}, {"content": "done"}],
                     mode="auto-edit", careful=True)
    events = drive(s, "fix add", lambda e: None)  # run_tests would ask: nobody may be there to approve
    assert events[-1].steps == 3 and events[-1].summary == "done"
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [EDIT]}, {"content": "done"}], mode="auto")
    assert drive(s, "fix add", lambda e: None)[-1].steps == 2  # scripted transcripts keep their turns by default


def test_call_ids_stay_unique_when_a_session_is_resumed(calc_repo, tmp_path):
    # A resumed session's backend numbers its calls from the start again; forget and recall name
    # results by id, so an id used before in the session gets a suffix.
    echo = {"name": "shell", "arguments": {"command": "echo FIRST"}}
    first = make_session(calc_repo, tmp_path, [{"tool_calls": [echo]}, {"content": "done"}], mode="auto")
    drive(first, "one", lambda e: None)
    again = {"name": "shell", "arguments": {"command": "echo SECOND"}}
    second = make_session(calc_repo, tmp_path, [{"tool_calls": [again]}, {"content": "done"}], mode="auto",
                          resume_id=first.id)
    drive(second, "two", lambda e: None)
    calls = [e for e in read_events(sessions_dir(calc_repo) / f"{first.id}.jsonl") if e.type == "tool_call"]
    assert [c.call_id for c in calls] == ["call_0_0", "call_0_0_2"]
    results = {e.call_id: e.output for e in read_events(sessions_dir(calc_repo) / f"{first.id}.jsonl")
               if e.type == "tool_result"}
    assert "FIRST" in results["call_0_0"] and "SECOND" in results["call_0_0_2"]
