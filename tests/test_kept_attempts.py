"""Careful sessions keep a change that made more tests pass: a fresh attempt starts from those files and Wren
orients anew (agent/attempts.py, call_checks.keep_best)."""
from __future__ import annotations

import json

from test_orient import committed
from test_session import drive, make_session
from wren.agent.attempts import MAX_ATTEMPTS


CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a ** b\n"


def calc_repo(tmp_path):
    """A committed repo whose calc.py fails both tests of test_calc.py: (its path, calc.py's text)."""
    repo = tmp_path / "repo"
    committed(repo, {"calc.py": CALC, "test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n"
                     "    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"})
    return repo, CALC


def edit(old: str, new: str) -> dict:
    return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}


def test_a_fresh_attempt_keeps_a_change_that_made_more_tests_pass_and_orients_again(tmp_path):
    """Qwen2.5-Coder-1.5B's rewrite of QuixBugs hanoi made 7 of 8 tests pass, its next fix did not help, and the
    fresh attempt after it started from the turn's files (1 of 8): the better files are kept instead. After an
    attempt from them fails, the next starts from the turn's files, and the one after goes back to the kept ones:
    at 4742262, 11 of hanoi's 12 attempts started from kept changes, one of them wrong where the original
    program was one change from passing."""
    from wren.agent.limits import Limits

    repo, calc = calc_repo(tmp_path)

    s = make_session(repo, tmp_path, [
        # Attempt 1: add fixed (1 of 2 pass, more than the 0 Wren oriented with), then a wrong fix of mul.
        {"tool_calls": [edit("return a - b", "return a + b")]},
        {"tool_calls": [edit("return a ** b", "return a * b + 1")]},
        # Attempt 2 starts from the files with add fixed, and Wren runs the tests and reads the code again.
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "its change to calc.py made more tests pass (1 where 0 passed)",
                    "Tests (pytest): 1 passed, 1 failed", "return a + b"],
         "absent": ["a * b + 1", "Tests (pytest): 0 passed"], "tool_calls": [edit("return a ** b", "return a * b - 1")]},
        # Attempt 3 starts from the turn's files, oriented anew.
        {"expect": [f"Attempt 3 of {MAX_ATTEMPTS}", "starts again from the files as they were before any change",
                    "the change that made 1 tests pass", "Tests (pytest): 0 passed, 2 failed", "return a - b"],
         "absent": ["a * b - 1", "return a + b", "Tests (pytest): 1 passed"],
         # Attempt 2's failed fix, on these files: not refused as tried (Attempt.sides).
         "tool_calls": [edit("return a ** b", "return a * b - 1")]},
        # Attempt 4 goes back to the kept files.
        {"expect": [f"Attempt 4 of {MAX_ATTEMPTS}", "starts from the files of an earlier change that made more tests "
                    "pass (1 where 0 passed)", "return a + b", "Tests (pytest): 1 passed, 1 failed"],
         "absent": ["a * b - 1", "Tests (pytest): 0 passed"], "tool_calls": [edit("return a ** b", "return a * b")]},
        {"content": "fixed add and mul"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_calc.py fail; fix calc.py.", lambda e: None)
    restarts = [e for e in events if e.type == "attempt_restarted"]
    assert [r.number for r in restarts] == [2, 3, 4]
    assert restarts[0].files_from == restarts[2].files_from is not None and restarts[1].files_from is None
    by_wren = [e.tool_calls[0].name for e in events if e.type == "assistant_message" and e.by == "wren"]
    assert by_wren == ["run_tests", "read_file"] + ["run_tests"] * 2 + ["run_tests", "read_file", "run_tests"] * 3
    assert not [e for e in events if e.type == "tool_result" and "was made before in this turn" in e.output]
    assert events[-1].status == "success" and events[-1].files_changed == ["calc.py"]
    assert (repo / "calc.py").read_text() == calc.replace("a - b", "a + b").replace("a ** b", "a * b")
    # The checkpoint it started from holds add's fix only.
    from wren.tools.checkpoints import undo

    undo(repo, s.id, restarts[0].files_from)
    assert (repo / "calc.py").read_text() == calc.replace("a - b", "a + b")


def test_a_kept_change_that_makes_one_named_test_file_pass_is_kept_and_the_other_file_is_tested(tmp_path):
    """With two failing test files named, a change that makes the one Wren tests changes on pass entirely is kept
    too; orienting anew, that file passes and the other still fails: the tests fail, and a fix is tested on it."""
    from wren.agent.limits import Limits

    repo = tmp_path / "repo"
    calc = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a ** b\n"
    committed(repo, {"calc.py": calc, "test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
                     "test_mul.py": "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"})

    def edit(old: str, new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}

    s = make_session(repo, tmp_path, [
        # Attempt 1: mul fixed (test_mul.py, the last run, passes), then a wrong fix of add, tested on test_add.py.
        {"tool_calls": [edit("return a ** b", "return a * b")]},
        {"tool_calls": [edit("return a - b", "return a * b + 0")]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "made more tests pass (1 where 0 passed)"],
         "tool_calls": [edit("return a - b", "return a + b")]},
        {"content": "fixed add and mul"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_add.py and test_mul.py fail; fix calc.py.", lambda e: None)
    (restart,) = [e for e in events if e.type == "attempt_restarted"]
    assert restart.files_from is not None and events[-1].status == "success"
    tested = [json.loads(e.tool_calls[0].arguments).get("target") for e in events
              if e.type == "assistant_message" and e.by == "wren" and e.tool_calls[0].name == "run_tests"]
    assert tested[-1] == "test_add.py"  # the fix of attempt 2, tested by Wren on the file that failed
    assert (repo / "calc.py").read_text() == calc.replace("a - b", "a + b").replace("a ** b", "a * b")


def test_a_change_to_a_test_is_not_kept_and_an_ignored_file_is(tmp_path):
    """A weakened test makes more tests pass and is no progress: a fresh attempt puts it back. A file .gitignore
    hides, the code under test, is kept and put back like any other (the best's checkpoint holds it)."""
    from wren.agent.limits import Limits

    calc = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a ** b\n"
    # Imported by name at run time: orient finds no code the test imports, so no edit is forced on the model.
    test = ("import importlib\n\ncalc = importlib.import_module('calc')\n\n\ndef test_add():\n"
            "    assert calc.add(2, 3) == 5\n\n\ndef test_mul():\n    assert calc.mul(2, 3) == 6\n")
    committed(weak := tmp_path / "weak", {"calc.py": calc, "test_calc.py": test})
    s = make_session(weak, tmp_path, [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "test_calc.py", "old": "== 5", "new": "== -1"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a ** b", "new": "a * b + 1"}}]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}"], "absent": ["== -1", "made more tests pass"], "content": "no"}],
        mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_calc.py fail; fix them.", lambda e: None)
    assert [e.files_from for e in events if e.type == "attempt_restarted"][:1] == [None]
    assert (weak / "test_calc.py").read_text() == test

    local = tmp_path / "local"
    committed(local, {".gitignore": "local_calc.py\n", "local_calc.py": calc, "test_calc.py": (
        "from local_calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_mul():\n    assert mul(2, 3) == 6\n")})

    def edit(old: str, new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "local_calc.py", "old": old, "new": new}}

    s = make_session(local, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a + b")]}, {"tool_calls": [edit("return a ** b", "return a * b + 1")]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "made more tests pass", "return a + b"], "absent": ["a * b + 1"],
         "tool_calls": [edit("return a ** b", "return a * b")]},
        {"content": "fixed"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_calc.py fail; fix local_calc.py.", lambda e: None)
    assert events[-1].status == "success" and events[-1].files_changed == ["local_calc.py"]


def test_the_last_attempt_starts_from_the_kept_change_and_a_tried_fix_is_refused_on_the_same_files(tmp_path, monkeypatch):
    """The attempts take turns between the kept files and the turn's start, but the last starts from the kept ones
    (the turn ends on the most tests passing); a fix that failed on the kept files is refused there again."""
    from wren.agent.limits import Limits

    monkeypatch.setattr("wren.agent.careful.MAX_ATTEMPTS", 3)
    repo, calc = calc_repo(tmp_path)

    s = make_session(repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a + b")]},  # kept: 1 of 2
        {"tool_calls": [edit("return a ** b", "return a * b + 1")]},
        {"expect": ["Attempt 2 of 3", "made more tests pass"], "tool_calls": [edit("return a ** b", "return a * b - 1")]},
        # Attempt 3, the last, starts from the kept files again; attempt 2's fix is refused there.
        {"expect": ["Attempt 3 of 3", "return a + b", "Tests (pytest): 1 passed, 1 failed"],
         "tool_calls": [edit("return a ** b", "return a * b - 1")]},
        {"expect": ["was made before in this turn"], "content": "could not fix mul"}],
        mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_calc.py fail; fix calc.py.", lambda e: None)
    restarts = [e for e in events if e.type == "attempt_restarted"]
    assert [r.number for r in restarts] == [2, 3] and restarts[0].files_from == restarts[1].files_from is not None
    assert events[-1].status == "failed" and (repo / "calc.py").read_text() == calc.replace("a - b", "a + b")


def test_after_a_keep_each_sides_attempts_take_turns_between_edits_and_rewrites(tmp_path, monkeypatch):
    """Counted by the turn's attempt number, the rewrites fell on one side once the attempts took turns between a
    kept change and the turn's start: in QuixBugs longest_common_subsequence and hanoi (7a2f80a) every attempt from
    the turn's start after the keep was a rewrite, where the original programs are one edit from passing. Each side
    counts its own attempts: the second from either is a rewrite (by number, attempt 3 would be an edit)."""
    from wren.agent.limits import Limits

    monkeypatch.setattr("wren.agent.careful.MAX_ATTEMPTS", 5)
    repo = tmp_path / "repo"
    calc = ('def add(a, b):\n    """The sum of a and b."""\n    return a - b\n\n\n'
            'def mul(a, b):\n    """The product of a and b."""\n    return a ** b\n')
    committed(repo, {"calc.py": calc, "test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n"
                     "    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"})
    s = make_session(repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a + b")]},  # attempt 1, the start's first: add fixed, kept
        {"tool_calls": [edit("return a ** b", "return a * b + 1")]},
        # Attempt 2, the kept change's first: an edit (it fixes what still fails).
        {"expect": ["Attempt 2 of 5", "made more tests pass"], "tool_calls": [edit("return a ** b", "return a * b - 1")]},
        # Attempt 3, the start's second: a rewrite of add, the function its first failure calls.
        {"expect": ["Write this Python function", "Start with `def add(a, b):`"], "content":
         "```python\ndef add(a, b):\n    return a * b\n```"},
        # Attempt 4, the kept change's second: a rewrite too, of mul (add passes on those files).
        {"expect": ["Write this Python function", "Start with `def mul(a, b):`"], "content":
         "```python\ndef mul(a, b):\n    return a + b\n```"},
        # Attempt 5, the last, from the kept change: every tool, no rewrite.
        {"expect": ["Attempt 5 of 5", "return a + b"], "tool_calls": [edit("return a ** b", "return a * b")]},
        {"content": "fixed add and mul"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, "The tests in test_calc.py fail; fix calc.py.", lambda e: None)
    restarts = [e for e in events if e.type == "attempt_restarted"]
    assert [r.number for r in restarts] == [2, 3, 4, 5]
    assert [r.files_from is None for r in restarts] == [False, True, False, False]
    assert events[-1].status == "success"
    assert (repo / "calc.py").read_text() == calc.replace("a - b", "a + b").replace("a ** b", "a * b")
