"""Where a failing test's wrong value came from: a dynamic backward slice of the test's call into the code under test.

wren_test_limit (this folder's plugin) traces the tests of a targeted run, up to and including the first that
fails, with sys.settrace: for each call the test makes into the code under test (a file under the rootdir that is
not a test, nor in site-packages), after each line it notes which of the frame's variables that line changed and
which variables the line read. When the test fails, the report gets a section (ORIGINS) that walks back from what
the call returned (or the line that raised) to the lines that last set the values it was made of, two levels deep:

    hanoi(1, 1, 3) returned [(1, 2)] at python_programs/hanoi.py:9: `return steps`
      steps = [(1, 2)] was last set by line 6: `steps.append((start, helper))`
      helper = 2 was last set by line 4: `helper = ({1, 2, 3} - {start} - {end}).pop()`

This is dynamic slicing (Agrawal and Horgan, 1990) cut to data dependences: a wrong value is traced to the
statement that made it. Shown only the failing call and its result, Qwen2.5-Coder-1.5B changed every line of
QuixBugs hanoi but the one that appends the wrong pair (12 attempts of 12).

A value can be wrong for a line that did not run as well: the "why did this not happen" question of the Whyline
(Ko and Myers, 2008). Asked of one kind of line only, a comparison off by one: when, after the line that last set a
variable the result is made of, an `if` whose body sets that variable again last tested a comparison of two plain
numbers (`if weight < j:`, sides made of names, numbers and arithmetic) at its boundary (the sides equal) and was
false, the slice says so with the values the condition read ("  line 13 `memo[i, j] = max(` did not run: line 12
`if weight < j:` was false with weight = 40, j = 40"). Told only where memo was last set, Qwen2.5-Coder-1.5B
rewrote that line and the function in 12 attempts of 12 of QuixBugs knapsack; the bug is the condition, false
where weight equals j. Any false `if` after the last set would name guards and clamps that did nothing wrong.

Only the frames the test calls directly are traced line by line (a recursion's inner calls and helpers run
untraced: their results show as changes in the outer frame). A function that calls itself has its inner calls
noted at their returns only: for each line they returned from, the smallest such call and its result, said
under the slice ("  its own call levenshtein('n', 'n') returned 1 at line 6: `return 1 + ...`"). Where the
function builds its result from its own calls, the line that returned the test's value is seldom the wrong one:
in QuixBugs levenshtein, told "it returned at line 9 `return 1 + min(`", Qwen2.5-Coder-1.5B rewrote that line
in 7 attempts of 7; the bug is line 6, whose smallest call, levenshtein('n', 'n') returning 1, shows it.
A returned value can be wrong for a line that read the wrong variable: variable misuse, the bug class of
Allamanis, Brockschmidt and Khademi (2018, "Learning to Represent Programs with Graphs"). Under a return's slice
go the frame's variables that hold one number or a short string then ("  its variables at the return: height = 1,
start = 1, end = 3, helper = 2"), so that tools/pytest_failures.py can say where the wrong part of the value was a
variable the line read and the expected part one it did not read. Shown only where the pair came from, in QuixBugs
hanoi Qwen2.5-Coder-1.5B's three edit attempts on the original program (a08e83c) each changed how `helper` is
computed (the bug: line 6 appends `helper` where `end` is right).
Tracing is off when another tracer (coverage, a debugger) is set, and stops for the rest of the run after
EVENTS lines or SECONDS of traced time, so a slow test file is not made slower: a line's cost grows with the
containers it holds (their marks), and QuixBugs knapsack fixed, its memo of thousands of entries marked at every
line, ran past the 30 s test limit traced (0.1 s untraced), so the right fix counted as one test fewer passing
and was put back.
It never fails a test: any error in the tracer turns it off.
"""
from __future__ import annotations

import inspect
import keyword
import linecache
import os
import re
import sys
import time

from wren_branches import branches, equal_sides
from wren_values import call_text, shown, value_mark

# pytest leaves this module's frames out of its tracebacks (its Traceback.filter reads the frame's globals): a
# recursion that reaches its limit may raise in the tracer's own call, and QuixBugs mergesort's first failure then
# read "raised at .../wren_origins.py:258 ... in `if not self.on or not self._is_code(...)`", Wren's line, not the
# program's.
__tracebackhide__ = True

ORIGINS = "wren: where the value came from"  # the report section's name (tools/testparse.py finds it by this)
EVENTS = 300_000  # lines traced in one run; past this, tracing stops for the rest of the run
SECONDS = 5.0  # traced time in one run; past this too (checked every CLOCK_EVERY lines)
CLOCK_EVERY = 256
SHOWN = 4  # lines a slice shows under its head
INNER_CALLS = 20_000  # a recursion's inner calls noted in one run; past this, the rest run untraced
SCOPE = "its variables at the return"  # the slice's line of the frame's scalars (tools/pytest_failures.py reads it)
SCALAR_CHARS = 30  # the longest string said there
NAME = re.compile(r"[A-Za-z_]\w*")
TEST_DIRS = {"test", "tests", "testing"}
# Frames that run a comprehension's or generator's body: a recursion through them (`[y for x in arr for y in
# flatten(x)]`) is still the function calling itself.
INNER = {"<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>"}


class Origin:
    """Where a variable got the value it holds: the line that last changed it, that value (cut repr), the
    origins of the variables that line read then (each without origins of its own, so that a loop does not
    build a chain as long as its run), and when (the frame's count of lines run)."""
    __slots__ = ("line", "value", "inputs", "tick")

    def __init__(self, line: int, value: str, inputs: tuple[tuple[str, "Origin"], ...] = (), tick: int = 0):
        self.line, self.value, self.inputs, self.tick = line, value, inputs, tick


class _Frame:
    """One traced call: its call as made, the line before the current one, each variable's mark and origin."""

    def __init__(self, frame):
        self.call = call_text(frame)
        self.generator = bool(frame.f_code.co_flags & inspect.CO_GENERATOR)  # what it yields is not a return
        self.previous: int | None = None
        self.unwinding = False  # an exception is passing through it (set by 'exception', cleared by 'line')
        local = frame.f_locals
        self.marks = {name: value_mark(value) for name, value in local.items()}
        self.origins: dict[str, Origin | None] = dict.fromkeys(local)  # None: an argument, as passed
        self.tick = 0  # lines run so far
        # An `if` line (see branches) whose test just ran: its line, the values it read, whether its sides were equal
        self.testing: tuple[int, str, bool] | None = None
        self.false: dict[int, tuple[int, str]] = {}  # `if` line -> (tick, values read): its last test, false at its boundary

    def advance(self, frame) -> None:
        """Note what the line that just ran (self.previous) changed."""
        local = frame.f_locals
        if self.previous is None:
            self.marks = {name: value_mark(value) for name, value in local.items()}
            return
        read = [n for n in names_on(frame.f_code.co_filename, self.previous) if n in self.origins]
        before = {n: self.origins[n] for n in read}
        for name, value in local.items():
            mark = value_mark(value)
            if self.marks.get(name, self) != mark:
                self.marks[name] = mark
                inputs = tuple((n, Origin(o.line, o.value)) for n, o in before.items() if n != name and o is not None)
                self.origins[name] = Origin(self.previous, shown(value), inputs, self.tick)

    def branch(self, frame, event: str) -> None:
        """At a line or return event: whether the `if` whose test ran just before entered its body (its test
        false at its boundary is noted, any other outcome clears that), and, at an `if` line, what its test
        is about to read."""
        filename, at = frame.f_code.co_filename, frame.f_lineno
        if self.testing is not None:
            line, values, equal = self.testing
            tested = branches(filename)[line]
            if event == "line" and line < at <= tested.test_end:  # the test's own next line
                return
            if equal and (event == "return" or not tested.first <= at <= tested.last):
                self.false[line] = (self.tick, values)
            else:
                self.false.pop(line, None)
            self.testing = None
        found = branches(filename).get(at) if event == "line" else None
        if found is not None:
            local = frame.f_locals
            names = [n for line in range(at, found.test_end + 1) for n in names_on(filename, line)]
            values = ", ".join(f"{n} = {shown(local[n])}" for n in dict.fromkeys(names) if n in local)
            self.testing = (at, values, equal_sides(found.sides, frame))


class Tracer:
    """sys.settrace's functions for one test (start, stop), and what they found (origin_of)."""

    def __init__(self, root: str, test_file: str, budget: list[float]):
        self.root = os.path.realpath(root) + os.sep
        self.test_file = os.path.realpath(test_file)
        # [lines left to trace in this run, seconds left], shared by the run's tracers; a one-item list has no clock
        self.budget = budget
        self.started = 0.0  # time.perf_counter() when it started
        self.under_test: dict[str, bool] = {}
        self.frames: dict[object, _Frame] = {}
        self.returned = ""  # the slice of the last traced call that returned
        self.raised: dict[int, tuple[BaseException, str]] = {}  # id(exception) -> (it, the slice where it was raised)
        # A recursion's inner calls: code -> {line returned from: (the smallest call's text, what it returned)}
        self.inner: dict[object, dict[int, tuple[str, str]]] = {}
        self.inner_left = INNER_CALLS
        self.on = False

    def start(self) -> bool:
        """Trace from here in this thread; False (and nothing traced) where another tracer is set."""
        if sys.gettrace() is not None or self.budget[0] <= 0 or (len(self.budget) > 1 and self.budget[1] <= 0):
            return False
        self.on, self.started = True, time.perf_counter()
        sys.settrace(self._call)
        return True

    def stop(self) -> None:
        if self.on and sys.gettrace() == self._call:
            sys.settrace(None)
        if self.started and len(self.budget) > 1:
            self.budget[1] -= time.perf_counter() - self.started
        self.on, self.started = False, 0.0
        self.frames.clear()

    def _spent(self) -> bool:
        """Whether this run's traced time is up (SECONDS), read every CLOCK_EVERY lines."""
        return (len(self.budget) > 1 and self.budget[0] % CLOCK_EVERY == 0
                and time.perf_counter() - self.started > self.budget[1])

    def origin_of(self, error: BaseException | None) -> str:
        """The slice for a test that failed with `error`: where it was raised when that was in a traced call,
        else (an assertion of the test's own) the last traced call's return; "" when neither was traced."""
        if error is not None and id(error) in self.raised and self.raised[id(error)][0] is error:
            return self.raised[id(error)][1]
        return self.returned if isinstance(error, AssertionError) else ""

    def _is_code(self, filename: str) -> bool:
        known = self.under_test.get(filename)
        if known is None:
            real = os.path.realpath(filename)
            parts = real[len(self.root):].split(os.sep)
            name = parts[-1]
            known = (real.startswith(self.root) and real != self.test_file and name.endswith(".py")
                     and not name.startswith("test_") and not name.endswith("_test.py") and name != "conftest.py"
                     and not any(p in TEST_DIRS or p.endswith("_testcases") or p == "site-packages" or p.startswith(".")
                                 for p in parts[:-1]))
            self.under_test[filename] = known
        return known

    def _call(self, frame, event, arg):
        if not self.on or not self._is_code(frame.f_code.co_filename):
            return None
        caller = frame.f_back
        while caller is not None and caller.f_code.co_name in INNER:
            caller = caller.f_back
        if caller is not None and self._is_code(caller.f_code.co_filename):
            # called by the code under test: its result shows as a change in its caller; a call of itself is
            # noted at its return
            if caller.f_code is not frame.f_code or frame.f_code.co_flags & inspect.CO_GENERATOR or self.inner_left <= 0:
                return None
            return self._inner_call(frame)
        try:
            if frame not in self.frames:
                self.frames[frame] = _Frame(frame)
        except Exception:
            self._off()
            return None
        return self._step

    def _step(self, frame, event, arg):
        self.budget[0] -= 1
        if not self.on or self.budget[0] <= 0 or self._spent():
            self._off()
            return None
        try:
            state = self.frames[frame]
            if event in ("line", "return", "exception"):
                state.advance(frame)
            if event in ("line", "return"):
                state.branch(frame, event)
            if event == "line":
                state.previous, state.unwinding = frame.f_lineno, False
                state.tick += 1
            elif event == "exception":
                state.unwinding, state.testing = True, None  # a test that raised was neither true nor false
                error = arg[1]
                self.raised[id(error)] = (error, self._slice(state, frame, f"raised {type(error).__name__}"))
            elif event == "return" and not state.unwinding and not state.generator:
                self.returned = self._slice(state, frame, f"returned {shown(arg)}")
        except Exception:
            self._off()
            return None
        return self._step

    def _inner_call(self, frame):
        """The local trace function for an inner call of a function that calls itself: line events off, its
        return noted in self.inner (not where an exception ends it)."""
        self.inner_left -= 1
        try:
            text = call_text(frame)
        except Exception:
            return None
        frame.f_trace_lines = False
        unwinding = False

        def noted(frame, event, arg):
            nonlocal unwinding
            if event == "exception":
                unwinding = True
            elif event == "return" and not unwinding:
                found = self.inner.setdefault(frame.f_code, {})
                known = found.get(frame.f_lineno)
                if known is None or len(text) < len(known[0]):
                    found[frame.f_lineno] = (text, shown(arg))
            return noted
        return noted

    def _off(self) -> None:
        self.on = False
        sys.settrace(None)

    def _slice(self, state: _Frame, frame, what: str) -> str:
        filename, at = frame.f_code.co_filename, frame.f_lineno
        rel = os.path.relpath(filename, self.root)
        lines = [f"{state.call} {what} at {rel}:{at}: `{source(filename, at)}`"]
        seen = {at}
        todo = [(n, state.origins[n]) for n in names_on(filename, at) if state.origins.get(n) is not None]
        skipped = _skipped(state, filename, {n: state.origins[n] for n in names_on(filename, at) if n in state.origins})
        while todo and len(lines) <= SHOWN:
            _, origin = todo[0]
            if origin is None or origin.line in seen:
                todo.pop(0)
                continue
            seen.add(origin.line)
            # The variables one line set together (`for i, count in enumerate(arr):`) are said on one line.
            together = [(n, o) for n, o in todo if o is not None and o.line == origin.line]
            todo = [(n, o) for n, o in todo if o is None or o.line != origin.line]
            values = ", ".join(f"{n} = {o.value}" for n, o in dict(together).items())
            lines.append(f"  {values} {'were' if len(dict(together)) > 1 else 'was'} last set by line {origin.line}: "
                         f"`{source(filename, origin.line)}`")
            todo += [i for _, o in together for i in o.inputs]
        lines += skipped
        for line, (call, value) in sorted(self.inner.get(frame.f_code, {}).items()):
            lines.append(f"  its own call {call} returned {value} at line {line}: `{source(filename, line)}`")
        scalars = _scalars(frame.f_locals) if what.startswith("returned") else ""
        return "\n".join(lines + ([f"  {SCOPE}: {scalars}"] if scalars else []))


def _scalars(local: dict) -> str:
    """`name = repr, ...` of the variables that hold a number (not a bool) or a string of at most SCALAR_CHARS;
    "" for fewer than two (the line is there to tell one variable from another)."""
    found = [f"{name} = {value!r}" for name, value in local.items()
             if type(value) in (int, float) or (type(value) is str and len(value) <= SCALAR_CHARS)]
    return ", ".join(found) if len(found) > 1 else ""


def _skipped(state: _Frame, filename: str, read: dict[str, Origin | None]) -> list[str]:
    """The `if` whose body sets one of the variables a slice starts from (None: an argument, as passed) and that
    was last false at its boundary after that variable was last set (the latest such, where several were), as a
    line of the slice; [] when none was."""
    found = [(tick, line, name, values) for line, (tick, values) in state.false.items()
             for name, origin in read.items()
             if name in branches(filename)[line].sets and (origin is None or tick > origin.tick)]
    if not found:
        return []
    _, line, name, values = max(found)
    sets = branches(filename)[line].sets[name]
    return [f"  line {sets} `{source(filename, sets)}` did not run: line {line} `{source(filename, line)}` was false"
            + (f" with {values}" if values else "")]


def source(filename: str, line: int) -> str:
    return linecache.getline(filename, line).strip()


_names: dict[tuple[str, int], list[str]] = {}


def names_on(filename: str, line: int) -> list[str]:
    """The names a source line mentions, in order, once each (a string's words too: they are dropped where
    no variable has that name)."""
    key = (filename, line)
    if key not in _names:
        found = NAME.findall(source(filename, line))
        _names[key] = [n for n in dict.fromkeys(found) if not keyword.iskeyword(n)]
    return _names[key]
