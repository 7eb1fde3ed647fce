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
"""
from __future__ import annotations

import signal
import threading

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("wren_test_limit", "seconds one test may run before it fails and the run stops (0: no limit)",
                  default="0")


# trylast: the innermost wrapper, so the alarm covers the test and as little of pytest's own code as can be.
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
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
