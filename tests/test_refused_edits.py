"""Careful sessions: edits refused before they are made (a change already tried and failed, one no test can
see), and what a refusal does to the attempt (its line left out; two of them end it)."""
from __future__ import annotations

from conftest import CALC
from test_orient import offered
from test_session import READ_CALC, drive, make_session
from wren.agent.attempts import MAX_ATTEMPTS



def test_a_refused_edit_is_not_offered_again_in_the_attempt(calc_repo, tmp_path):
    from wren.agent.limits import Limits

    broken = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "def add(a, b):",
                                                 "new": "def add(a, b): return a + b"}}
    s = make_session(calc_repo, tmp_path, [
        # A change that would not parse is refused (Qwen sent the same one five times after the refusal) ...
        {"tool_calls": [broken]},
        {"expect": ["unable to parse (unexpected indent, to Python 3."],
         "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                            "new": "return a + b"}}]},
        {"content": "fixed add"}], mode="auto", careful=True, limits=Limits(max_steps=10))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert events[-1].status == "success" and not [e for e in events if e.type == "attempt_restarted"]
    # ... so the next narrowed step offers the other line only, and the line counts as failed once.
    offered = [[o["properties"]["old"]["const"] for o in choice["function"]["parameters"]["oneOf"]]
               for choice in s.backend.tool_choices[:2]]
    assert offered == [["def add(a, b):", "return a - b"], ["return a - b"]]
    assert s.attempt.refused_edits == 1 and s.attempt.line_failures == {}  # refused, not a failed fix


def test_an_edit_no_test_can_see_is_refused_while_the_tests_fail(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B turned `def kheapsort(arr, k):` into `def kheapsort(arr, k) :` (kheapsort): a change
    in whitespace or comments only is refused before it is made, and its line is left out of the attempt."""
    from wren.agent.limits import Limits

    unseen = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                 "new": "return a  -  b  # subtracts"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [unseen]},
        {"expect": ["changes only whitespace or comments, which no test can see"],
         "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "def add(a, b):",
                                                            "new": "def add(a, b, c=0):"}}]},
        {"content": "could not fix it"}], mode="auto", careful=True, limits=Limits(max_steps=3))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert "# subtracts" not in (calc_repo / "calc.py").read_text()  # the refused change was not made
    offered = [[o["properties"]["old"]["const"] for o in choice["function"]["parameters"]["oneOf"]]
               for choice in s.backend.tool_choices[:2]]
    assert offered == [["def add(a, b):", "return a - b"], ["def add(a, b):"]]
    by_wren = [e.tool_calls[0].name for e in events if e.type == "assistant_message" and e.by == "wren"]
    assert by_wren == ["run_tests", "read_file", "run_tests"]  # no test run after the refused edit


def test_two_refused_edits_start_a_fresh_attempt(calc_repo, tmp_path):
    from wren.agent.limits import Limits

    def broken(old: str) -> dict:  # Qwen appended ` return mid` to line after line of find_first_in_sorted
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": f"{old} return 0"}}

    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [broken("def add(a, b):")]}, {"tool_calls": [broken("return a - b")]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "2 of its edits were refused"],
         "absent": ["unable to parse"],
         "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"content": "fixed add"}], mode="auto", careful=True, limits=Limits(max_steps=10))
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert [e.number for e in events if e.type == "attempt_restarted"] == [2]
    assert events[-1].status == "success"


def test_an_edit_already_tested_and_failing_this_turn_is_refused_in_any_attempt(calc_repo, tmp_path):
    wrong = {"name": "edit_file", "arguments": {"path": "./calc.py", "old": "return a - b", "new": "return a * b"}}
    same = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return  a - b", "new": "return a * b"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [wrong]},  # tested by Wren: still failing, so attempt 2 starts
        {"expect": ["Attempt 2 of"], "tool_calls": [same]},  # the wrong fix again, in attempt 2
        {"expect": ["this same change to calc.py was made before in this turn, and the tests failed after it "
                    "(Tests (pytest): 0 passed, 1 failed, 0 errors)"],
         "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"content": "fixed add"}], mode="auto", careful=True)
    events = drive(s, "The test in test_calc.py fails; fix it.", lambda e: None)
    assert events[-1].status == "success" and (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    # Refused, the line is offered no more in this attempt's narrowed steps (Qwen repeated a refused edit twice).
    lines = [offered(choice)["calc.py"] for choice in s.backend.tool_choices[1:3]]
    assert "return a - b" in lines[0] and "return a - b" not in lines[1] and lines[1]
    # Not careful: the same failed edit, made again in one turn, runs as asked.
    (calc_repo / "calc.py").write_text(CALC)
    tests = {"name": "run_tests", "arguments": {"target": "test_calc.py"}}
    s = make_session(calc_repo, tmp_path, [{"tool_calls": [READ_CALC]}, {"tool_calls": [wrong]}, {"tool_calls": [tests]},
                                           {"tool_calls": [{"name": "edit_file", "arguments": {
                                               "path": "calc.py", "old": "return a * b", "new": "return a - b"}}]},
                                           {"tool_calls": [wrong]}, {"content": "done"}], mode="auto")
    events = drive(s, "try a * b", lambda e: None)
    assert not [e for e in events if e.type == "tool_result" and "this same change" in e.output]
    assert "return a * b" in (calc_repo / "calc.py").read_text()


def test_a_fix_that_failed_at_one_place_of_a_line_found_twice_is_not_refused_at_the_other(calc_repo, tmp_path):
    """get_factors' `return []` is there twice and its bug is the second: the fix tried at line 3 failed, and the
    same fix at line 6 is a different change (narrowing.line_key), offered and made."""
    code = "def add(a, b):\n    if a == 0:\n        return b\n    for _ in range(1):\n        pass\n    return b\n"
    (calc_repo / "calc.py").write_text(code)

    def fix(line: int) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return b", "line": line,
                                                   "new": "return a + b"}}

    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [fix(3)]},  # tested by Wren: still failing, so attempt 2 starts
        {"expect": ["Attempt 2 of"], "absent": ["this same change"], "tool_calls": [fix(6)]},
        {"content": "fixed add"}], mode="auto", careful=True)
    events = drive(s, "The test in test_calc.py fails; fix calc.py.", lambda e: None)
    assert events[-1].status == "success" and (calc_repo / "calc.py").read_text() == code[:-len("b\n")] + "a + b\n"
    first, second = ([(o["properties"]["old"]["const"], o["properties"].get("line", {}).get("const"),
                       o["properties"]["new"]["not"]) for o in choice["function"]["parameters"]["oneOf"]
                      if o["properties"]["old"]["const"] == "return b"] for choice in s.backend.tool_choices[:2])
    assert first == [("return b", 3, {"const": "return b"}), ("return b", 6, {"const": "return b"})]
    # In attempt 2 the failed fix is refused at line 3 only.
    assert second == [("return b", 3, {"enum": ["return b", "return a + b"]}), ("return b", 6, {"const": "return b"})]
