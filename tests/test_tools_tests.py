"""run_tests on real projects: it finds the runner, runs it, and names what failed and where."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git

from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.tools.testparse import parse_go
from wren.tools.tests import is_test_path
from wren.tools.workspace import Workspace

RUN_TESTS = default_registry().get("run_tests")


def run_tests(root: Path, target: str | None = None):
    return RUN_TESTS.run(RUN_TESTS.args(target=target), ToolContext(Workspace(root)))


def summary(root: Path) -> str:
    """What run_tests says before the runner's own output."""
    return re.split("--- (?:output|first failure) ---", run_tests(root).output)[0]


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_one_failing_pytest_test_is_named_with_its_assertion(calc_repo):
    result = run_tests(calc_repo)
    assert not result.ok and result.exit_code == 1
    said = re.split("--- (?:output|first failure) ---", result.output)[0]
    assert "Tests (pytest): 0 passed, 1 failed, 0 errors." in said
    assert "- test_calc.py::test_add at test_calc.py:5: `add(2, 3)` returned -1, expected 5; it returned at line 2 `return a - b`\n" in said


def test_the_model_is_shown_the_test_command_without_wren_s_additions(calc_repo):
    """The time-limit plugin and its folder (this install's path) are in the command that runs and in the
    preview a human approves; the model is shown the runner's command and target only."""
    from wren.tools.tests import PLUGIN_DIR, preview_run_tests

    args = RUN_TESTS.args(target="test_calc.py")
    previewed = preview_run_tests(args, ToolContext(Workspace(calc_repo))).command
    assert str(PLUGIN_DIR) in previewed and "-p wren_test_limit" in previewed
    shown = run_tests(calc_repo, "test_calc.py").output.split("\n")[0]
    wrens = r"^PYTHONPATH=\S+ | -p wren_test_limit -o wren_test_limit=\d+ -o wren_trace=1 -o faulthandler_timeout=\d+(?= )"
    assert shown == "$ " + re.sub(wrens, "", previewed)
    assert str(PLUGIN_DIR) not in shown and "wren_test_limit" not in shown and shown.endswith(" test_calc.py")


def test_only_the_first_failures_report_is_shown_and_the_whole_output_is_logged(tmp_path):
    # Five failures of one bug: the runner's report repeats one traceback five times.
    write(tmp_path, {"calc.py": "def half(n):\n    return n // 3\n",
                     "test_calc.py": "import pytest\nfrom calc import half\n\n\n"
                                     "@pytest.mark.parametrize('n', [6, 12, 18, 24, 30])\n"
                                     "def test_half(n):\n    assert half(n) * 2 == n\n"})
    result = run_tests(tmp_path)
    head, first = result.output.split("--- first failure ---")
    assert "0 passed, 5 failed" in head and head.count("- test_calc.py::test_half[") == 5
    assert first.count("assert half(n) * 2 == n") == 1 and "test_calc.py::test_half[6]" in first
    assert re.search(r"^\s+n\s+= 6$", first, re.M)  # the failing input, from the report's locals
    assert result.full_output.count("assert half(n) * 2 == n") >= 5  # the session log keeps all of it


def test_on_a_small_window_the_run_fits_its_room_listing_fewer_failures(tmp_path):
    """A result's room is a share of the model's window (ContextService.result_room): on a 4,096-token
    window one QuixBugs run took 1,166 of its 3,072 tokens. The first failure stays listed and reported."""
    write(tmp_path, {"calc.py": "def half(n):\n    return n // 3\n",
                     "test_calc.py": "import pytest\nfrom calc import half\n\n\n"
                                     "@pytest.mark.parametrize('n', [6, 12, 18, 24, 30])\n"
                                     "def test_half(n):\n    assert half(n) * 2 == n\n"})
    whole = run_tests(tmp_path).output
    room = 650
    result = RUN_TESTS.run(RUN_TESTS.args(target=None), ToolContext(Workspace(tmp_path), room=room))
    assert len(result.output) <= room < len(whole)
    head, first = result.output.split("--- first failure ---")
    assert "0 passed, 5 failed" in head and "- test_calc.py::test_half[6] at test_calc.py:7:" in head
    listed = head.count("- test_calc.py::test_half[")
    assert 1 <= listed < 5 and f"- ... and {5 - listed} more (see output)" in head
    assert "assert half(n) * 2 == n" in first
    assert result.full_output.count("assert half(n) * 2 == n") >= 5  # the session log keeps all of it


def test_a_failed_equality_says_what_the_call_returned_and_with_which_input(tmp_path):
    # QuixBugs' shape: the test's locals hold the input; pytest cuts the lists (`...`) as it reports them.
    write(tmp_path, {"sorter.py": "def sort(arr, k):\n    return [0] * (len(arr) + k)\n",
                     "test_sorter.py": "import pytest\nfrom sorter import sort\n\n\n"
                                       "@pytest.mark.parametrize('input_data,expected', [([[3, 1, 2], 4], [1, 2, 3])])\n"
                                       "def test_sort(input_data, expected):\n    assert sort(*input_data) == expected\n"})
    said = summary(tmp_path)
    line = next(line for line in said.splitlines() if line.startswith("- test_sorter.py::test_sort"))
    # The call as made, its starred input spread out as pytest's locals show it.
    assert ("`sort([3, 1, 2], 4)` returned [0, 0, 0, 0, 0, 0, ...], expected [1, 2, 3]; it returned at line 2 "
            "`return [0] * (len(arr) + k)` / At index 0 diff") in line
    assert "assert [0" not in line
    # An input pytest cut short (`...`) is named with its value instead.
    write(tmp_path, {"test_sorter.py": "def test_sort():\n    input_data = [list(range(40)), 4]\n"
                                       "    from sorter import sort\n    assert sort(*input_data) == [1]\n"})
    line = next(line for line in summary(tmp_path).splitlines() if line.startswith("- test_sorter.py::test_sort"))
    assert "`sort(*input_data)` returned [0, 0, 0, " in line and "(input_data = [[0, 1, 2, " in line
    # A string in the input: pytest then keeps the "AssertionError: " before `assert` (QuixBugs'
    # is_valid_parenthesization read "raised AssertionError: assert True == False", and Qwen invented inputs).
    write(tmp_path, {"parens.py": "def valid(parens):\n    return True\n",
                     "test_parens.py": "from parens import valid\n\n\ndef test_valid():\n    input_data = ['((']\n"
                                       "    assert valid(*input_data) == False\n"})
    line = next(line for line in summary(tmp_path).splitlines() if line.startswith("- test_parens.py::test_valid"))
    assert line.endswith(": `valid('((')` returned True, expected False; it returned at line 2 `return True`"), line
    # Nor the lines of pytest's diff of two strings (`- Hello, Ann?`, `?  ^`).
    write(tmp_path, {"greet.py": "def greet(name):\n    return 'Hello, ' + name + '!'\n",
                     "test_parens.py": "def test_valid():\n    from greet import greet\n    x = 'Ann'\n"
                                       "    assert greet(x) == 'Hello, Ann?'\n"})
    line = next(line for line in summary(tmp_path).splitlines() if line.startswith("- test_parens.py::test_valid"))
    assert line.endswith(": `greet('Ann')` returned 'Hello, Ann!', expected 'Hello, Ann?'; it returned at line 2 "
                         "`return 'Hello, ' + name + '!'`"), line
    # Any other failure keeps pytest's words.
    write(tmp_path, {"test_sorter.py": "def test_sort():\n    assert 1 < 0, 'no'\n"})
    assert "AssertionError: no" in summary(tmp_path)


def test_pytest_failures_inside_code_under_test_and_errors(tmp_path):
    (tmp_path / "helper.py").write_text("def add(a, b):\n    assert a > 100, 'too small'\n    return a + b\n")
    (tmp_path / "test_x.py").write_text(
        "import pytest\nfrom helper import add\n\n\ndef test_ok():\n    assert True\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n@pytest.fixture\ndef boom():\n"
        "    raise RuntimeError('fixture broke')\n\n\ndef test_err(boom):\n    pass\n")
    said = summary(tmp_path)
    assert "1 passed, 1 failed, 1 errors" in said
    # The test's call as it was made, what it raised, and the variables where it raised.
    assert ("- test_x.py::test_add at test_x.py:10 (raised at helper.py:2): `add(2, 3)` raised AssertionError: "
            "too small, in `assert a > 100, 'too small'` with a = 2, b = 3; expected 5\n") in said
    assert "- test_x.py::test_err at test_x.py:15: RuntimeError: fixture broke" in said


def test_a_failure_raised_inside_a_recursion_names_the_calls_that_led_there(tmp_path):
    """QuixBugs kth raised IndexError in `pivot = arr[0]` with arr = [] seven calls deep; told only that frame's
    variables, Qwen2.5-Coder-1.5B blamed an empty input in all 12 attempts. The summary names the calls that led
    there (tools/pytest_plugin), a call repeated until the recursion limit said once, and no function objects."""
    write(tmp_path, {"kth.py": "def kth(arr, k):\n    pivot = arr[0]\n    above = [x for x in arr if x > pivot]\n"
                               "    if k < 1:\n        return pivot\n    return kth(above, k)\n",
                     "gcd.py": "def gcd(a, b):\n    helper = abs\n    if b == 0:\n        return a\n"
                               "    return gcd(a % b, b)\n",
                     "test_rec.py": "from kth import kth\nfrom gcd import gcd\n\n\ndef test_kth():\n"
                                    "    assert kth([1, 2, 3], 2) == 3\n\n\ndef test_gcd():\n    assert gcd(13, 13) == 13\n"})
    said = summary(tmp_path)
    assert ("`kth([1, 2, 3], 2)` raised IndexError: list index out of range, in `pivot = arr[0]` with arr = [], k = 2, "
            "at the end of the calls kth([1, 2, 3], 2) -> kth([2, 3], 2) -> kth([3], 2) -> kth([], 2); expected 3") in said
    assert ("`gcd(13, 13)` raised RecursionError: maximum recursion depth exceeded, in `return gcd(a % b, b)` with "
            "a = 0, b = 13, at the end of the calls gcd(13, 13) -> gcd(0, 13) (the same call over and over); "
            "expected 13") in said, said
    # Calls as they could be made (keyword-only arguments by name, *args spread, dicts in their order), and a
    # recursion through a comprehension (Python 3.11 runs its body in a frame of its own) still named.
    write(tmp_path, {"rec.py": "def find(xs, *, target, lo=0):\n    if lo > 1:\n        return xs[99]\n"
                               "    return find(xs, target=target, lo=lo + 1)\n\n\n"
                               "def walk(node, *path):\n    return walk(node['next'], *path, 1) if node else path[9]\n\n\n"
                               "def flat(arr):\n    return [y for x in arr for y in (flat(x) if x else [arr[9]])]\n",
                     "test_rec.py": "from rec import find, walk, flat\n\n\ndef test_find():\n"
                                    "    assert find([1, 2], target=2) == 1\n\n\ndef test_walk():\n"
                                    "    assert walk({'v': 1, 'next': None}) == 1\n\n\ndef test_flat():\n"
                                    "    assert flat([[[]]]) == []\n"})
    said = summary(tmp_path)
    assert "at the end of the calls find([1, 2], target=2, lo=0) -> find([1, 2], target=2, lo=1) -> " in said, said
    assert "at the end of the calls walk({'v': 1, 'next': None}) -> walk(None, 1);" in said, said
    assert "at the end of the calls flat([[[]]]) -> flat([[]]); expected []" in said, said
    # No recursion, no calls named.
    write(tmp_path, {"test_rec.py": "from kth import kth\n\n\ndef test_kth():\n    assert kth([], 0) == 3\n"})
    assert "in `pivot = arr[0]` with arr = [], k = 0; expected 3" in summary(tmp_path)


def test_a_target_narrows_the_run_and_must_stay_inside(calc_repo):
    (calc_repo / "test_more.py").write_text("def test_fine():\n    assert 1\n")
    result = run_tests(calc_repo, "test_more.py")
    assert result.ok and "Tests (pytest): 1 passed, 0 failed" in result.output
    with pytest.raises(ToolError, match="outside the workspace"):
        run_tests(calc_repo, "../elsewhere/test_x.py")


def test_configured_command_wins_and_unittest_output_is_read(tmp_path):
    (tmp_path / "test_u.py").write_text(
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n"
        "        self.assertEqual(1 + 1, 3)\n\n    def test_b(self):\n        pass\n")
    (tmp_path / "wren.toml").write_text(f'test_command = "{sys.executable} -m unittest"\n')
    result = run_tests(tmp_path)
    assert result.output.startswith(f"$ {sys.executable} -m unittest\nTests (unittest): 1 passed, 1 failed, 0 errors.")
    assert f"- test_u.T.test_a at {tmp_path}/test_u.py:6: AssertionError: 2 != 3" in result.output


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_test_with_node_test_runner(tmp_path):
    write(tmp_path, {"package.json": json.dumps({"name": "t", "version": "1.0.0", "scripts": {"test": "node --test"}}),
                     "test/add.test.js": "const test = require('node:test');\nconst assert = require('node:assert');\n"
                                         "test('adds', () => { assert.strictEqual(1 + 1, 2); });\n"
                                         "test('subtracts', () => { assert.strictEqual(2 - 1, 3); });\n"})
    said = summary(tmp_path)
    assert "Tests (node): 1 passed, 1 failed, 0 errors." in said
    assert f"- subtracts at {tmp_path}/test/add.test.js:4: Expected values to be strictly equal:" in said


def runs(*argv: str) -> bool:
    """Whether a program is installed and starts: rustup's cargo is there yet cannot run without a toolchain
    in its HOME (as in the newcomer check's empty one)."""
    try:
        return subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not runs("cargo", "--version"), reason="cargo is not installed, or has no toolchain")
def test_cargo_test(tmp_path):
    write(tmp_path, {"Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
                     "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 { a - b }\n\n#[cfg(test)]\nmod tests {\n"
                                   "    use super::*;\n    #[test]\n    fn it_adds() { assert_eq!(add(2, 3), 5); }\n"
                                   "    #[test]\n    fn it_keeps() { assert_eq!(add(2, 0), 2); }\n}\n"})
    said = summary(tmp_path)
    assert "Tests (cargo): 1 passed, 1 failed, 0 errors." in said
    assert "- tests::it_adds at src/lib.rs:7: assertion `left == right` failed" in said


GO_OUTPUT = """=== RUN   TestAdd
    calc_test.go:8: Add(2, 3) = -1, want 5
--- FAIL: TestAdd (0.00s)
=== RUN   TestSub
--- PASS: TestSub (0.00s)
=== RUN   TestSkip
    calc_test.go:20: not on this platform
--- SKIP: TestSkip (0.00s)
FAIL
FAIL	example.com/calc	0.002s
ok  	example.com/other	0.001s
"""


def test_go_test_verbose_output_is_read():
    outcome = parse_go(GO_OUTPUT)
    assert (outcome.passed, outcome.failed, outcome.errors, outcome.skipped) == (1, 1, 0, 1)
    assert [(f.test_id, f.location, f.message) for f in outcome.failures] == [
        ("TestAdd", "calc_test.go:8", "Add(2, 3) = -1, want 5")]


def test_no_runner_is_a_hint(tmp_path):
    (tmp_path / "README.md").write_text("nothing to test\n")
    with pytest.raises(ToolError, match="set test_command in wren.toml"):
        run_tests(tmp_path)


@pytest.mark.parametrize("rel,expected", [
    ("tests/test_calc.py", True), ("python_testcases/test_gcd.py", True), ("calc_test.go", True),
    ("src/app.test.ts", True), ("conftest.py", True), ("json_testcases/gcd.json", True),
    ("calc.py", False), ("python_programs/gcd.py", False), ("src/contest.py", False), ("attest.py", False),
])
def test_is_test_path(rel, expected):
    assert is_test_path(rel) is expected


def test_a_word_as_target_runs_the_one_test_file_it_names_else_names_the_next_call(calc_repo):
    git(calc_repo, "add", "-A")
    result = run_tests(calc_repo, "calc")  # a real model's calls: "calc", "pytest", "python"
    assert "'calc' is not a path; ran test_calc.py, the one test file that matches it" in result.output
    assert "test_calc.py" in result.output.splitlines()[0] and "1 failed" in result.output
    for word in ("pytest", "python"):
        with pytest.raises(ToolError, match=f"'{word}' is not a test file or directory here; call run_tests with "
                                            "a test file as target, or with no target for the whole suite"):
            run_tests(calc_repo, word)
    with pytest.raises(ToolError, match="'tests/test_nope.py' is not a test file or directory here"):
        run_tests(calc_repo, "tests/test_nope.py")


LOOPING = {"search.py": "def find(xs, x):\n    lo = 0\n    while lo < len(xs):\n        if xs[lo] == x:\n"
                        "            return lo\n    return -1\n"}


def test_a_test_that_never_ends_fails_with_its_inputs_and_the_run_stops_there(tmp_path, monkeypatch):
    from wren.tools import tests as tests_module

    # 40 s for the file: one test may run 10 s (the alarm starts with the test, not with pytest).
    monkeypatch.setattr(tests_module, "TARGET_TIMEOUT_S", 40.0)  # a test file's limit (120 s by default)
    write(tmp_path, {**LOOPING, "test_search.py": (
        "from search import find\n\n\ndef test_none():\n    assert find(None, 1) == -1\n\n\n"
        "def test_first():\n    assert find([1, 2], 1) == 0\n\n\ndef test_second():\n    xs = [1, 2]\n"
        "    assert find(xs, 2) == 1\n\n\ndef test_after():\n    assert find([], 1) == -1\n")})
    result = run_tests(tmp_path, "test_search.py")
    assert not result.ok and "killed" not in result.output and result.tests_passed == 1
    said, report = result.output.split("--- first failure ---")
    # The run stopped at the looping test: the one after it never ran; the failure before it is reported.
    assert "Tests (pytest): 1 passed, 2 failed, 0 errors." in said
    assert "`find(None, 1)` raised TypeError: object of type 'NoneType' has no len()" in said
    # The looping call with its input, and the loop's state when it was stopped.
    stopped = re.search(r"test_second at test_search.py:14 \(raised at search.py:[34]\): `find\(\[1, 2\], 2\)` "
                        r"ran past 10s and was stopped in `(while lo < len\(xs\):|if xs\[lo\] == x:)` "
                        r"with lo = 0, x = 2, xs = \[1, 2\]; expected 1\n", said)
    assert stopped, said
    assert "a test may loop forever" in said and "with which values" in said
    assert "test_none" in report and "test_after" not in result.output


def test_a_loop_the_alarm_cannot_stop_is_killed_and_its_stack_shows_where(tmp_path, monkeypatch):
    from wren.tools import tests as tests_module

    # The test file sets its own SIGALRM handler, so the plugin leaves it be; faulthandler's dump at 13 s
    # (a third past the test's 10 s) is the backstop.
    monkeypatch.setattr(tests_module, "TARGET_TIMEOUT_S", 40.0)
    write(tmp_path, {**LOOPING, "test_search.py": "import signal\nfrom search import find\n\n"
                                                  "signal.signal(signal.SIGALRM, lambda *a: None)\n\n\n"
                                                  "def test_find():\n    assert find([1, 2], 2) == 1\n"})
    result = run_tests(tmp_path, "test_search.py")
    assert not result.ok and result.tests_passed == 0
    assert "killed: a test ran past 13s" in result.output and "a test may loop forever" in result.output
    # pytest's faulthandler dump names the loop (its condition or its body: where the dump caught it)
    assert re.search(r'search\.py", line [34] in find', result.output), result.output[-3000:]
