"""A pytest plugin that run_tests loads (`-p wren_test_limit -o wren_test_limit=SECONDS`, this folder on
PYTHONPATH): a test still running after SECONDS fails where it is, so that pytest reports it like any
failure (its traceback, and with --showlocals the inputs of the call and the state of the loop it was
in), and the run stops there, reporting the failures before it. Later tests are not run.

Why not faulthandler_timeout alone: its stack dump names the line a test was looping on but not the
input, and the run it interrupts never prints the reports of the failures before it. Why not
pytest-timeout: it is not in the environment of the project under test, and it does not stop the run.

The limit is armed with SIGALRM (POSIX, main thread only) and only when no other SIGALRM handler is
set (pytest-timeout's signal method, a test's own); elsewhere the plugin does nothing and
faulthandler_timeout stays the backstop.

It also says how a failure that was raised inside a recursion got there: the calls of the function that
called itself, with their arguments, as a report section (CALLS) that tools/testparse.py reads.

With `-o wren_trace=1` it traces the tests up to the first failure (wren_origins.Tracer) and adds to that
failure's report a section (ORIGINS) naming the lines that made the wrong value; later tests run untraced.
"""
from __future__ import annotations

import os
import signal
import threading

import pytest

from wren_origins import EVENTS, INNER, ORIGINS, SECONDS, Tracer
from wren_values import call_text, parameters

CALLS = "wren: the calls"  # the report section's name (tools/testparse.py finds it by this)
SHOWN_FIRST, SHOWN_LAST = 3, 2  # calls of a recursion shown from its start and its end
MANY = 50  # a call repeated in a row this often is said to repeat "over and over"
# The run's tracing state, kept here rather than in pytest's stash (pytest 7+) so that any pytest the project
# under test has can load the plugin: a pytest process runs one session.
_budget: list[float] = [EVENTS, SECONDS]  # lines and seconds left to trace in this run; 0 lines once a test failed
_tracers: dict[str, Tracer] = {}  # test id -> its tracer, from its call to its report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("wren_test_limit", "seconds one test may run before it fails and the run stops (0: no limit)",
                  default="0")
    parser.addini("wren_trace", "1: trace the tests up to the first failure and say where its wrong value came "
                  "from (wren_origins)", default="0")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
    tracer = _tracer(item)
    try:
        yield from _limited(item)
    finally:
        if tracer is not None:
            tracer.stop()


def _tracer(item: pytest.Item) -> Tracer | None:
    """With wren_trace, the tests up to the first that fails run traced (wren_origins.Tracer): the tracer,
    started; else None."""
    config = item.config
    if config.getini("wren_trace") != "1" or threading.current_thread() is not threading.main_thread():
        return None
    # rootpath and path are pytest 7's (before it: run_tests runs pytest in the workspace's root, and fspath).
    root, test_file = getattr(config, "rootpath", None) or os.getcwd(), getattr(item, "path", None) or item.fspath
    tracer = Tracer(str(root), str(test_file), _budget)
    if not tracer.start():
        return None
    _tracers[item.nodeid] = tracer
    return tracer


def _limited(item: pytest.Item):
    try:
        seconds = float(item.config.getini("wren_test_limit") or 0)
    except ValueError:
        seconds = 0.0
    if (seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL):  # None: a handler set outside Python
        yield
        return
    running = [True]

    def stop(signum, frame):  # raised in the test's own frame: the traceback ends where it was looping
        __tracebackhide__ = True
        if running[0]:
            item.session.shouldstop = f"a test ran past {seconds:g}s"
            pytest.fail(f"the test ran past {seconds:g}s and was stopped here (it may loop forever); "
                        "the tests after it were not run", pytrace=True)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        running[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and report.failed and call.excinfo is not None:
        calls = recursion(call.excinfo.tb)
        if calls:
            report.sections.append((CALLS, calls))
        tracer = _tracers.pop(item.nodeid, None)
        if tracer is not None:
            tracer.budget[0] = 0  # the first failure is the one shown: the tests after it run untraced
            origins = tracer.origin_of(call.excinfo.value)
            if origins:
                report.sections.append((ORIGINS, origins))


def recursion(tb) -> str:
    """The longest run of frames in traceback `tb` in which a function called itself, as its calls with their
    arguments: "kth([1, 2, 3, 4, 5, 6, ...], 4) -> kth([2, 3, 4, 5, 6, 7], 4) -> ... -> kth([], 4)", a call
    repeated in a row said once with its count, SHOWN_FIRST calls from the start and SHOWN_LAST from the end.
    The arguments are the parameters' values when the error was raised (a parameter the function rebound or
    a list it changed in place shows its later value). "" when no function called itself.
    QuixBugs kth raised IndexError in `pivot = arr[0]` with arr = [] seven calls deep; shown that frame's
    variables, Qwen2.5-Coder-1.5B blamed an empty input in 12 attempts of 12 (the input was not empty)."""
    frames = []
    while tb is not None:  # pytest's and pluggy's own frames left out (its hook calls nest), and comprehensions'
        frame = tb.tb_frame
        if (frame.f_code.co_name not in INNER
                and not str(frame.f_globals.get("__name__", "")).startswith(("_pytest.", "pluggy.", "pytest."))):
            frames.append(frame)
        tb = tb.tb_next
    best, start = (0, 0), 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i].f_code is not frames[start].f_code:
            best, start = max(best, (i - start, start)), i
    length, first = best
    if length < 2:
        return ""
    # Calls in a row with the same arguments grouped by a cheap key (a RecursionError has about 1,000 frames, and
    # some values' reprs are made whole before they are cut): only the groups shown get a repr.
    groups: list[list] = []  # [key, first frame, times in a row]
    for frame in frames[first: first + length]:
        key = _key(frame)
        if groups and groups[-1][0] == key:
            groups[-1][2] += 1
        else:
            groups.append([key, frame, 1])
    hidden = len(groups) - SHOWN_FIRST - SHOWN_LAST
    shown: list[list | None] = [*groups] if hidden <= 1 else [*groups[:SHOWN_FIRST], None, *groups[-SHOWN_LAST:]]
    parts: list[list] = []  # [text, times in a row]
    for group in shown:
        text = f"... ({hidden} more)" if group is None else call_text(group[1])
        if parts and group is not None and parts[-1][0] == text:
            parts[-1][1] += group[2]
        else:
            parts.append([text, 1 if group is None else group[2]])
    # A count past MANY is the recursion limit's, which varies with the stack: said the same way each run.
    return " -> ".join(text if times == 1 else f"{text} (the same call {times} times in a row)" if times < MANY else
                       f"{text} (the same call over and over)" for text, times in parts)


def _key(frame) -> tuple:
    """What tells two calls' arguments apart without their reprs: small scalars by value, the rest by identity."""
    positional, varargs, keyword, varkw = parameters(frame.f_code)
    values = [frame.f_locals.get(n) for n in [*positional, *keyword, *filter(None, [varargs, varkw])]]
    return tuple(v if type(v) in (int, float, bool, type(None)) or (type(v) is str and len(v) < 100) else id(v)
                 for v in values)
