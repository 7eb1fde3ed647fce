"""Where a failing call's value came from (tools/pytest_plugin/wren_origins.py), through run_tests: real pytest runs
of small programs, the plugin's report section and the words run_tests' summary makes of it."""
from __future__ import annotations

import sys
from pathlib import Path

from wren.tools.base import ToolContext
from wren.tools.sandbox import PLUGIN_DIR
from wren.tools.tests import RUN_TESTS
from wren.tools.workspace import Workspace

# QuixBugs hanoi's shape, written anew: the pair appended is (start, helper) where (start, end) is right.
MOVES = ("def moves(height, start=1, end=3):\n"
         "    steps = []\n"
         "    if height > 0:\n"
         "        helper = ({1, 2, 3} - {start} - {end}).pop()\n"
         "        steps.extend(moves(height - 1, start, helper))\n"
         "        steps.append((start, helper))\n"
         "        steps.extend(moves(height - 1, helper, end))\n"
         "    return steps\n")
# QuixBugs max_sublist_sum's shape: the wrong value is made two lines before the line that returns it.
BEST = ("def best(arr):\n"
        "    here = 0\n"
        "    so_far = 0\n"
        "    for x in arr:\n"
        "        here = here + x\n"
        "        so_far = max(so_far, here)\n"
        "    return so_far\n")
TESTS = ("import pytest\nfrom moves import moves\nfrom best import best\n\n\n"
         "def test_none():\n    assert moves(0) == []\n\n\n"
         "@pytest.mark.parametrize('height,expected', [(1, [(1, 3)]), (2, [(1, 2), (1, 3), (2, 3)])])\n"
         "def test_moves(height, expected):\n    assert moves(height, 1, 3) == expected\n\n\n"
         "def test_best():\n    assert best([-5, 3, 4]) == 7\n")


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def run(root: Path, target: str) -> str:
    return RUN_TESTS.run(RUN_TESTS.args(target=target), ToolContext(Workspace(root))).output


def test_the_first_failure_says_which_lines_made_the_value_it_returned(tmp_path):
    write(tmp_path, {"moves.py": MOVES, "best.py": BEST, "test_it.py": TESTS})
    out = run(tmp_path, "test_it.py")
    first = next(line for line in out.splitlines() if line.startswith("- test_it.py::test_moves[1-expected0]"))
    # With CI set, pytest appends its full diff after " / ", so the line is checked up to the first diff line.
    assert (": `moves(1, 1, 3)` returned [(1, 2)], expected [(1, 3)]; steps was last set by line 6 "
            "`steps.append((start, helper))`, helper by line 4 "
            "`helper = ({1, 2, 3} - {start} - {end}).pop()`, line 6 used helper = 2 where the test expected 3, the "
            "value of end / At index 0 diff: (1, 2) != (1, 3)") in first, first
    # The first failure's report carries the plugin's section, with the values each line left.
    report = out.split("--- first failure ---", 1)[1]
    assert ("moves(1, 1, 3) returned [(1, 2)] at moves.py:8: `return steps`\n"
            "  steps = [(1, 2)] was last set by line 6: `steps.append((start, helper))`\n"
            "  helper = 2 was last set by line 4: `helper = ({1, 2, 3} - {start} - {end}).pop()`\n") in report, report
    assert "\n  its variables at the return: height = 1, start = 1, end = 3, helper = 2" in report, report
    # Only the first failure is traced: the tests after it run as they are, and their lines say nothing more.
    later = [line for line in out.splitlines() if line.startswith(("- test_it.py::test_moves[2", "- test_it.py::test_best"))]
    assert len(later) == 2 and not any("last set" in line for line in later), later


def test_a_value_made_by_a_line_the_returned_one_reads_is_named_too(tmp_path):
    write(tmp_path, {"moves.py": MOVES, "best.py": BEST, "test_it.py": TESTS})
    out = run(tmp_path, "test_it.py::test_best")
    line = next(line for line in out.splitlines() if line.startswith("- test_it.py::test_best"))
    # Not said to be variable misuse: so_far and here both hold the wrong 2, so neither is named.
    assert line.endswith("`best([-5, 3, 4])` returned 2, expected 7; so_far was last set by line 6 `so_far = max(so_far, here)`, here by line 5 "
                         "`here = here + x`"), line


def test_a_return_that_read_one_variable_in_place_of_another_says_which(tmp_path):
    write(tmp_path, {"ends.py": "def ends(first, last, middle):\n    return [first, middle]\n",
                     "test_ends.py": "from ends import ends\n\n\ndef test_ends():\n    assert ends(1, 9, 5) == [1, 9]\n"})
    line = next(line for line in run(tmp_path, "test_ends.py").splitlines() if line.startswith("- test_ends.py"))
    assert ("`ends(1, 9, 5)` returned [1, 5], expected [1, 9]; it returned at line 2 `return [first, middle]`, "
            "line 2 used middle = 5 where the test expected 9, the value of last") in line, line
    # Where the expected value is held by a variable the line read as well, nothing is said of misuse.
    write(tmp_path, {"ends.py": "def ends(first, last, middle):\n    return [first, middle, last]\n",
                     "test_ends.py": "from ends import ends\n\n\ndef test_ends():\n    assert ends(1, 9, 5) == [1, 9, 9]\n"})
    line = next(line for line in run(tmp_path, "test_ends.py").splitlines() if line.startswith("- test_ends.py"))
    assert "it returned at line 2" in line and " used " not in line, line


def test_a_line_that_set_two_names_is_said_once_and_a_call_that_raised_names_its_line(tmp_path):
    write(tmp_path, {"count.py": "def counted(arr, k):\n    counts = [0] * k\n    for x in arr:\n        counts[x] += 1\n"
                                 "    out = []\n    for i, n in enumerate(arr):\n        out.extend([i] * n)\n    return out\n\n\n"
                                 "def pick(arr, i):\n    j = i + 1\n    return arr[j]\n\n\n"
                                 "def first(arr):\n    return pick(arr, len(arr) - 1)\n",
                     "test_count.py": "from count import counted, first\n\n\n"
                                      "def test_counted():\n    assert counted([2, 0, 1], 3) == [0, 1, 2]\n\n\n"
                                      "def test_first():\n    assert first([5, 6]) == 6\n"})
    out = run(tmp_path, "test_count.py::test_counted")
    line = next(line for line in out.splitlines() if line.startswith("- test_count.py::test_counted"))
    assert "; out was last set by line 7 `out.extend([i] * n)`, i and n by line 6 `for i, n in enumerate(arr):`" in line
    # Raised in a call the test's call made: the test's call's line it came through is named (its values are
    # in the summary already), not where they were set.
    out = run(tmp_path, "test_count.py::test_first")
    line = next(line for line in out.splitlines() if line.startswith("- test_count.py::test_first"))
    assert line.endswith("; it was raised through line 17 `return pick(arr, len(arr) - 1)`"), line


def test_generators_other_tracers_and_passing_runs_are_left_alone(tmp_path):
    write(tmp_path, {"gen.py": "def evens(n):\n    for i in range(n):\n        yield i * 2 + 1\n",
                     "test_gen.py": "from gen import evens\n\n\ndef test_evens():\n    assert list(evens(2)) == [0, 2]\n"})
    line = next(line for line in run(tmp_path, "test_gen.py").splitlines() if line.startswith("- test_gen.py"))
    assert "last set" not in line and "it returned" not in line, line  # what a generator yields is not a return
    # A test run under another tracer (coverage, a debugger) keeps it: Wren does not trace, nor take its place.
    write(tmp_path, {"conftest.py": "import sys\nimport pytest\n\nseen = []\n\n\n@pytest.fixture(autouse=True)\n"
                                    "def other_tracer():\n    sys.settrace(lambda *a: seen.append(a[1]))\n    yield\n"
                                    "    sys.settrace(None)\n    assert 'call' in seen\n",
                     "calc.py": "def add(a, b):\n    return a - b\n",
                     "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"})
    out = run(tmp_path, "test_calc.py")
    assert "`add(2, 3)` returned -1, expected 5" in out and "it returned at" not in out, out
    assert "1 failed, 0 errors" in out  # the fixture's check of its own tracer passed
    # A passing run says nothing of origins.
    write(tmp_path, {"calc.py": "def add(a, b):\n    return a + b\n"})
    out = run(tmp_path, "test_calc.py")
    assert "1 passed" in out and "where the value came from" not in out


def test_the_tracer_stops_at_its_budget_and_the_code_runs_on_unchanged(tmp_path):
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        from wren_origins import Tracer
    finally:
        sys.path.remove(str(PLUGIN_DIR))
    here = Path(__file__)  # the caller: a test file outside the root, so only total's frames are traced
    namespace: dict = {}
    code = "def total(n):\n    s = 0\n    for i in range(n):\n        s = s + i\n    return s\n"
    path = tmp_path / "origins_probe.py"  # a file under the root that is not a test: code under test
    path.write_text(code)
    exec(compile(code, str(path), "exec"), namespace)
    budget = [10**6]
    tracer = Tracer(str(tmp_path), str(here), budget)
    if not tracer.start():  # this run is itself traced (coverage): nothing to check here
        return
    try:
        result = namespace["total"](5)
    finally:
        tracer.stop()
    assert result == 10
    assert tracer.returned.startswith("total(5) returned 10 at origins_probe.py:5: `return s`\n"
                                      "  s = 10 was last set by line 4: `s = s + i`"), tracer.returned
    small = [20]
    tracer = Tracer(str(tmp_path), str(here), small)
    assert tracer.start()
    try:
        assert namespace["total"](1000) == 499500
    finally:
        tracer.stop()
    assert small[0] <= 0 and tracer.returned == "" and sys.gettrace() is None


def test_a_function_that_calls_itself_shows_its_smallest_own_call_at_each_line_it_returned_from(tmp_path):
    # The wrong value is made at line 5 (a negative counted as 1), deep in the recursion; the test's call
    # returned from line 6, which is right.
    write(tmp_path, {"count.py": "def positives(xs):\n    if not xs:\n        return 0\n    if xs[0] < 0:\n"
                                 "        return 1 + positives(xs[1:])\n    return 1 + positives(xs[1:])\n",
                     "test_count.py": "from count import positives\n\n\n"
                                      "def test_positives():\n    assert positives([1, -2, 3]) == 2\n"})
    out = run(tmp_path, "test_count.py")
    line = next(line for line in out.splitlines() if line.startswith("- test_count.py::test_positives"))
    assert line.endswith("`positives([1, -2, 3])` returned 3, expected 2; it returned at line 6 `return 1 + positives(xs[1:])`, "
                         "its own calls: `positives([])` returned 0 at line 3, `positives([-2, 3])` returned 2 at line 5, "
                         "`positives([3])` returned 1 at line 6"), line
    report = out.split("--- first failure ---", 1)[1]
    assert "  its own call positives([-2, 3]) returned 2 at line 5: `return 1 + positives(xs[1:])`" in report, report


# QuixBugs knapsack's kind of bug, written anew: the condition is false where it should hold (size 3 fits exactly),
# so the line that would have set the result again did not run after the line that last set it.
FITS = ("def fits(limit, sizes):\n"
        "    total = 0\n"
        "    seen = []\n"
        "    for size in sizes:\n"
        "        if total + size < limit:\n"
        "            total = total + size\n"
        "        if size > 100:\n"
        "            seen.append(size)\n"
        "    return total\n")


def test_an_if_that_was_false_after_the_value_was_last_set_is_named_with_the_values_it_read(tmp_path):
    write(tmp_path, {"fits.py": FITS, "test_fits.py": "from fits import fits\n\n\n"
                                                      "def test_fits():\n    assert fits(5, [2, 3]) == 5\n"})
    out = run(tmp_path, "test_fits.py")
    report = out.split("--- first failure ---", 1)[1]
    assert ("fits(5, [2, 3]) returned 2 at fits.py:9: `return total`\n"
            "  total = 2 was last set by line 6: `total = total + size`\n"
            "  size = 2 was last set by line 4: `for size in sizes:`\n"
            "  line 6 `total = total + size` did not run: line 5 `if total + size < limit:` was false with "
            "total = 2, size = 3, limit = 5") in report, report
    # The `if` at line 7 was false too, but its body sets seen, not what the call returned: not said.
    assert "line 7" not in report and report.count("did not run") == 1, report
    line = next(line for line in out.splitlines() if line.startswith("- test_fits.py::test_fits"))
    assert line.endswith("`fits(5, [2, 3])` returned 2, expected 5; total was last set by line 6 `total = total + size`, "
                         "line 6 `total = total + size` did not run: `if total + size < limit:` at line 5 was false "
                         "with total = 2, size = 3, limit = 5"), line
    # An `if` false only before the value was last set says nothing: the line after it did set it.
    write(tmp_path, {"test_fits.py": "from fits import fits\n\n\ndef test_fits():\n    assert fits(3, [5, 1]) == 2\n"})
    report = run(tmp_path, "test_fits.py").split("--- first failure ---", 1)[1]
    assert "total = 1 was last set by line 6" in report and "did not run" not in report, report


def test_only_an_if_false_at_its_boundary_is_named_and_its_latest_test_counts(tmp_path):
    programs = {
        # A clamp after the wrong line, false far from its boundary: not said (it did nothing wrong).
        "clamp.py": "def clamp_sum(xs):\n    t = 0\n    for x in xs:\n        t = t + x * 2\n"
                    "    if t > 100:\n        t = 100\n    return t\n",
        # False at its boundary (x == b == 3), then true: its latest test counts, and it was true.
        "top.py": "def top(xs):\n    b = 0\n    for x in xs:\n        if x > b:\n            b = x\n    return b + 1\n",
        # A test on two lines, false at its boundary: the values of both lines are said.
        "fill.py": "def fill(limit, sizes):\n    t = 0\n    for s in sizes:\n        if (t + s\n                < limit):\n"
                   "            t = t + s\n    return t\n",
        # A one-line body: no line event tells whether it ran, so nothing is said of it.
        "short.py": "def short(xs):\n    b = 0\n    for x in xs:\n        if x > b: b = x\n    return b - 1\n",
    }
    tests = ("from clamp import clamp_sum\nfrom top import top\nfrom fill import fill\nfrom short import short\n\n\n"
             "def test_clamp():\n    assert clamp_sum([1, 2]) == 3\n\n\n"
             "def test_top():\n    assert top([3, 3, 4]) == 4\n\n\n"
             "def test_fill():\n    assert fill(5, [2, 3]) == 5\n\n\n"
             "def test_short():\n    assert short([3, 3]) == 3\n")
    write(tmp_path, {**programs, "test_them.py": tests})
    for name in ("clamp", "top", "short"):
        report = run(tmp_path, f"test_them.py::test_{name}").split("--- first failure ---", 1)[1]
        assert "where the value came from" in report and "did not run" not in report, report
    report = run(tmp_path, "test_them.py::test_fill").split("--- first failure ---", 1)[1]
    assert ("  line 6 `t = t + s` did not run: line 4 `if (t + s` was false with t = 2, s = 3, limit = 5"
            in report), report


def test_the_tracer_adds_no_warning_to_a_test(tmp_path):
    # Parsing a file with an odd escape warns; the test that counts its warnings must not see it.
    write(tmp_path, {"digits.py": "import re\n\n\ndef digit(s):\n    n = 0\n    if re.match(\"\\d\", s):\n"
                                  "        n = 1\n    return n\n\n\ndef wrong(a, b):\n    if a < b:\n        a = b\n"
                                  "    return a + 1\n",
                     "test_digits.py": "from digits import digit, wrong\n\n\n"
                                       "def test_wrong():\n    assert wrong(2, 2) == 2\n\n\n"
                                       "def test_digit(recwarn):\n    assert digit('1') == 1\n    assert not recwarn.list\n"})
    out = run(tmp_path, "test_digits.py")
    assert "1 passed, 1 failed" in out and "did not run: `if a < b:` at line 12 was false with a = 2, b = 2" in out, out


# QuixBugs knapsack's shape, fixed: a memo of thousands of entries, marked at every traced line.
FILL = ("from collections import defaultdict\n\n\n"
        "def fill(n, m):\n"
        "    memo = defaultdict(int)\n"
        "    for i in range(1, n + 1):\n"
        "        for j in range(1, m + 1):\n"
        "            memo[i, j] = memo[i - 1, j] + 1\n"
        "    return memo[n, m]\n")


def test_tracing_stops_after_its_time_so_a_slow_traced_test_still_passes(tmp_path):
    """The right fix of knapsack ran past the 30 s test limit traced (each line marks the memo) and counted as
    one test fewer passing; tracing stops after wren_origins.SECONDS of traced time and the test runs on."""
    # Through run_tests: a test whose traced run would take minutes (untraced, well under a second).
    write(tmp_path / "ws", {"fill.py": FILL, "test_fill.py": (
        "from fill import fill\n\n\ndef test_big():\n    assert fill(400, 600) == 400\n")})
    out = run(tmp_path / "ws", "test_fill.py")
    assert "Tests (pytest): 1 passed" in out, out
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        from wren_origins import Tracer
    finally:
        sys.path.remove(str(PLUGIN_DIR))
    namespace: dict = {}
    path = tmp_path / "fill.py"
    path.write_text(FILL)
    exec(compile(FILL, str(path), "exec"), namespace)
    budget = [10**9, 0.2]  # lines enough for all of it, 0.2 s of tracing
    tracer = Tracer(str(tmp_path), str(Path(__file__)), budget)
    if not tracer.start():  # this run is itself traced (coverage): run_tests' check above is the one left
        return
    try:
        assert namespace["fill"](300, 300) == 300
        went_off = not tracer.on
    finally:
        tracer.stop()
    assert went_off and budget[1] <= 0 and sys.gettrace() is None


def test_a_recursion_limit_reached_in_the_tracer_is_reported_in_the_programs_frames(tmp_path):
    """QuixBugs mergesort's shape, written anew: a recursion that never ends on one item. Its limit is reached in
    the tracer's own call as often as in the program's; the report and its summary show the program's frames."""
    write(tmp_path, {"sort.py": "def sort(arr):\n    def merge(left, right):\n        result = []\n        i = j = 0\n"
                                "        while i < len(left) and j < len(right):\n"
                                "            if left[i] <= right[j]:\n                result.append(left[i])\n"
                                "                i += 1\n            else:\n                result.append(right[j])\n"
                                "                j += 1\n        result.extend(left[i:] or right[j:])\n"
                                "        return result\n\n    if len(arr) == 0:\n        return arr\n    else:\n"
                                "        middle = len(arr) // 2\n        left = sort(arr[:middle])\n"
                                "        right = sort(arr[middle:])\n        return merge(left, right)\n",
                     "test_sort.py": "import pytest\nfrom sort import sort\n\n\n"
                                     "@pytest.mark.parametrize('arr', [[1, 2, 6, 72, 7, 33, 4], [5, 4, 3, 2, 1]])\n"
                                     "def test_sort(arr):\n    assert sort(arr) == sorted(arr)\n"})
    out = run(tmp_path, "test_sort.py")
    assert "2 failed" in out and "raised RecursionError" in out, out
    assert "wren_origins" not in out and "pytest_plugin" not in out, out
