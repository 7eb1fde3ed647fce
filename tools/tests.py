"""run_tests: find the project's test runner (or the configured command), run it, summarise the outcome."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from wren.core.config import load_config
from wren.core.events import CommandPreview
from wren.core.errors import ConfigError
from wren.tools.base import Tool, ToolContext, ToolResult
from wren.core.errors import ToolError
from wren.core.paths import git_listing
from wren.tools.output import cap
from wren.tools.process import run
from wren.tools.sandbox import PLUGIN_DIR
from wren.tools.testparse import parse

TEST_TIMEOUT_S = 600.0  # the whole suite
# A test file or test: a run this long has a test that never ends (two QuixBugs programs loop forever
# when buggy), and each minute it runs is a minute the agent cannot work.
TARGET_TIMEOUT_S = 120.0
RAW_CHARS = 8_000  # of the runner's own output, after the summary
MIN_RAW_CHARS = 300  # of the first failure's report, however small the result's room (ToolContext.room)
PYTHON_MARKERS = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", "setup.py")
NPM_PLACEHOLDER = "no test specified"
# --showlocals: the report shows each frame's variables (pytest cuts each to 240 characters), so the
# failing input is in view; Qwen2.5-Coder read `assert [(1, 2)] == [(1, 3)]` for QuixBugs' hanoi without
# the height it came from, and changed the line that was right.
# A pytest plugin loaded from its own folder (nothing else of Wren lands on the tests' import path).
PLUGIN = "wren_test_limit"
PYTEST_FLAGS = "-q -rfE --tb=short --showlocals --no-header --color=no -p no:cacheprovider"


TEST_DIRS = {"test", "tests", "testing", "testcases", "test_cases", "__tests__", "spec", "specs"}


def is_test_path(rel: str) -> bool:
    """Whether a workspace-relative path looks like a test file by the usual conventions (pytest's
    `test_*.py` / `*_test.py` and conftest.py, Go's `*_test.go`, JS `*.test.*` / `*.spec.*`, a tests/ folder)."""
    parts = PurePosixPath(rel).parts
    name = parts[-1] if parts else ""
    stem = name.split(".", 1)[0]
    return (any(part.lower() in TEST_DIRS or part.lower().endswith("_testcases") for part in parts[:-1])
            or name == "conftest.py" or stem.startswith("test_") or stem.endswith(("_test", "_tests"))
            or ".test." in name or ".spec." in name)


@dataclass
class Runner:
    name: str  # pytest, unittest, npm, go, cargo or configured
    command: str


def _needs(program: str, marker: str) -> str:
    found = shutil.which(program)
    if not found:
        raise ToolError(f"this looks like a {marker} project but `{program}` is not installed; set test_command "
                        "in wren.toml, or run the tests with the shell tool")
    return found


def _pythons(root: Path) -> list[str]:
    """Interpreters to try, the project's own first."""
    found = [root / v / "bin" / "python" for v in (".venv", "venv")]
    if os.environ.get("VIRTUAL_ENV"):
        found.append(Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python")
    found += [Path(p) for p in (shutil.which("python3"), sys.executable) if p]
    return list(dict.fromkeys(str(p) for p in found if p.exists()))


def _has_pytest(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import pytest"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _python_runner(root: Path) -> Runner | None:
    names = [p.rsplit("/", 1)[-1] for p in git_listing(root)]
    tests = any(n.endswith(".py") and (n.startswith("test_") or n.endswith("_test.py")) for n in names)
    if not tests and not any((root / m).exists() for m in PYTHON_MARKERS):
        return None
    pythons = _pythons(root)
    if not pythons:
        raise ToolError("this looks like a Python project but no Python interpreter was found; set test_command")
    with_pytest = next((p for p in pythons if _has_pytest(p)), None)
    if with_pytest:
        return Runner("pytest", f"{shlex.quote(with_pytest)} -m pytest {PYTEST_FLAGS}")
    return Runner("unittest", f"{shlex.quote(pythons[0])} -m unittest")


def _npm_runner(root: Path) -> Runner | None:
    try:
        scripts = json.loads((root / "package.json").read_text(encoding="utf-8")).get("scripts") or {}
    except (OSError, ValueError):
        return None
    if NPM_PLACEHOLDER in scripts.get("test", NPM_PLACEHOLDER):
        return None
    return Runner("npm", f"{shlex.quote(_needs('npm', 'Node'))} test --silent")


def detect_runner(root: Path, configured: str | None = None) -> Runner:
    if configured:
        return Runner("configured", configured)
    if runner := _npm_runner(root):
        return runner
    if (root / "go.mod").is_file():
        return Runner("go", f"{shlex.quote(_needs('go', 'Go'))} test -v ./...")
    if (root / "Cargo.toml").is_file():
        return Runner("cargo", f"{shlex.quote(_needs('cargo', 'Rust'))} test")
    if runner := _python_runner(root):
        return runner
    raise ToolError("no test runner found (pytest, unittest, npm test, go test, cargo test); set test_command "
                    "in wren.toml, or run the tests with the shell tool")


def with_target(runner: Runner, target: str, ctx: ToolContext) -> str:
    if runner.name in ("pytest", "unittest") and ("/" in target or target.endswith(".py")):
        ctx.workspace.resolve(target.split("::", 1)[0])  # a path must stay inside the workspace
    if runner.name == "go":
        return runner.command.replace("./...", shlex.quote(target))
    if runner.name == "npm":
        return f"{runner.command} -- {shlex.quote(target)}"
    return f"{runner.command} {shlex.quote(target)}"


def usable_target(target: str | None, runner: Runner, ctx: ToolContext) -> tuple[str | None, str]:
    """(target to run, note for the model). Models put a word where a path belongs ("pytest",
    "python", "bucketsort"): a word that names exactly one test file runs that file and says so;
    any other word or missing path is an error naming the calls to make instead. The whole suite is
    never run on a guess: it may be slow, or hold tests that never end."""
    target = (target or "").strip()
    if not target or target in (".", "./") or runner.name not in ("pytest", "unittest"):
        return target or None, ""
    path = target.split("::", 1)[0]
    if ctx.workspace.resolve(path).exists():  # PathRefused for a path that leaves the workspace
        return target, ""
    word = PurePosixPath(path).stem.lower().removeprefix("test_")
    found = [rel for rel in git_listing(ctx.workspace.root) if is_test_path(rel) and rel.endswith(".py")
             and word and word in PurePosixPath(rel).stem.lower()]
    if len(found) == 1:
        return found[0], f"[{target!r} is not a path; ran {found[0]}, the one test file that matches it]"
    like = f" such as {', '.join(found[:3])}" if found else ""
    raise ToolError(f"{target!r} is not a test file or directory here; call run_tests with a test file as "
                    f"target{like}, or with no target for the whole suite")


class RunTestsArgs(BaseModel):
    target: str | None = Field(None, description="test file, directory or test id; default: the whole suite")


@dataclass
class _Plan:
    runner: Runner
    command: str
    shown: str  # for the model: the command without Wren's own additions (its time limit plugin)
    note: str  # for the model: how a target was read
    limit: float  # seconds the run may take
    test_limit: int  # seconds one pytest test may run (tools/pytest_plugin/wren_test_limit.py)
    targeted: bool  # a test file, directory or test was named


def _planned(args: RunTestsArgs, ctx: ToolContext) -> _Plan:
    """What a run_tests call will run; ToolError when there is no runner or the target is not usable."""
    try:  # the session's snapshot: a wren.toml written since cannot change what runs
        configured = (ctx.config or load_config(ctx.workspace.root)).test_command
    except ConfigError as exc:
        raise ToolError(f"{exc.message}; test_command cannot be read") from None
    runner = detect_runner(ctx.workspace.root, configured)
    target, note = usable_target(args.target, runner, ctx)
    command = shown = with_target(runner, target, ctx) if target else runner.command
    nominal = TARGET_TIMEOUT_S if target else TEST_TIMEOUT_S
    limit, share = ctx.time_left(nominal), one_test_limit(nominal)
    if runner.name == "pytest":
        # A test still running a quarter of the way to the limit fails where it is, with its inputs and
        # locals, and the run stops there (wren_test_limit). faulthandler_timeout is the backstop for a
        # loop the alarm cannot interrupt: its stack dump stops the run in run_tests. The plugin's folder
        # is in the command itself, so that the command as previewed (for approval) runs as it ran; the
        # model is shown the command without them: they are Wren's, about 60 tokens a run, and hold the
        # install's path, which made the same task's prompts differ from one checkout to another.
        # It also traces the tests up to the first failure, to say where the failing call's value came from
        # (wren_origins; at most its EVENTS lines a run, a few seconds).
        command = command.replace(" -m pytest ", f" -m pytest -p {PLUGIN} -o {PLUGIN}={share} -o wren_trace=1 "
                                                 f"-o faulthandler_timeout={backstop(share)} ", 1)
        command = f"PYTHONPATH={shlex.quote(str(PLUGIN_DIR))}${{PYTHONPATH:+:$PYTHONPATH}} {command}"
    return _Plan(runner, command, shown, note, limit, share, bool(target))


def one_test_limit(limit: float) -> int:
    """Seconds one pytest test may run in a run limited to `limit` seconds: a quarter of it (at least 1).
    QuixBugs' find_first_in_sorted loops forever when buggy: each run of its test file cost Qwen2.5-Coder's
    session the whole 120 s, five runs of a 900 s task; stopped at the first test past 30 s, a run costs 30 s."""
    return max(1, int(limit // 4))


def backstop(test_limit: int) -> int:
    """faulthandler_timeout for a run whose tests may each run `test_limit` seconds: a third more, so that
    the plugin's alarm, which reports the test, comes first."""
    return test_limit + max(1, test_limit // 3)


def preview_run_tests(args: RunTestsArgs, ctx: ToolContext) -> CommandPreview:
    """The test command the call will run, with its time limit."""
    plan = _planned(args, ctx)
    return CommandPreview(command=plan.command, cwd=str(ctx.workspace.root), timeout_s=plan.limit)


def run_tests(args: RunTestsArgs, ctx: ToolContext) -> ToolResult:
    plan = _planned(args, ctx)
    # faulthandler's dump opens with "Timeout (H:MM:SS)!" (CPython's faulthandler.c): a test has run past
    # the backstop; the run ends there.
    seconds = backstop(plan.test_limit)
    marker = f"Timeout ({seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d})!".encode()
    stop = (marker, f"a test ran past {seconds}s") if plan.runner.name == "pytest" else None
    done = run(plan.command, ctx.workspace.root, plan.limit, ctx.interrupt, ctx.sandbox, stop_on=stop)
    outcome = parse(done.output, plan.runner.name)
    status = f"killed: {done.killed}" if done.killed else f"exit code {done.exit_code}"
    parts = [f"$ {plan.shown}"] + [plan.note] * bool(plan.note)
    room = ctx.output_room()
    if outcome:  # the list of failures gets at most half of the room, the first failure's report the rest
        listed = min(room // 2, room - sum(len(p) + 1 for p in parts) - MIN_RAW_CHARS - 200)  # 200: the notes
        parts.append(outcome.summary(max(0, listed)))
    parts.append(f"[{status}, {done.duration_s:.1f}s]")
    stopped = f"Interrupted: a test ran past {plan.test_limit}s" in done.output
    if stopped or done.killed.startswith(("timed out", "a test ran past")):
        slow = (" (or be slow: without a target, each test has longer)"
                if plan.targeted and (stopped or "test" in done.killed) else "")
        where = ("The summary above says where it was stopped and with which values" if stopped else
                 "Where a stack dump (\"Timeout\" ... \"most recent call first\") is below, it shows where it was "
                 "running")
        parts.append(f"[The tests did not finish in time: a test may loop forever{slow}. {where}.]")
    full = done.output.rstrip("\n")
    left = max(MIN_RAW_CHARS, min(RAW_CHARS, room - sum(len(p) + 1 for p in parts) - 120))  # its header, cap's note
    if outcome and outcome.reports:
        # The summary names every failure, with its call and values; of the runner's report only the first
        # failure's traceback is shown: the rest repeats it and buries it (five copies of one RecursionError
        # on QuixBugs gcd).
        first = cap(outcome.reports[0], left, "run_tests with a narrower target for the rest")
        parts.append(f"--- first failure ---\n{first}")
    else:
        raw = cap(full, left, "run_tests with a target, or the shell tool, for the rest")
        parts.append(f"--- output ---\n{raw or '(no output)'}")
    output = "\n".join(parts)
    passed = 0 if done.killed else outcome.passed if outcome else None
    return ToolResult(ok=not done.killed and done.exit_code == 0, output=output, exit_code=done.exit_code,
                      tests_passed=passed,
                      first_failure=outcome.failures[0].message or None if outcome and outcome.failures else None,
                      full_output=None if full in output else f"{output}\n--- whole output ---\n{full}")


RUN_TESTS = Tool("run_tests", "Run the tests; summarise failures.",
                 RunTestsArgs, run_tests, kind="execute",
                 more_hint="run_tests with a narrower target for the rest",
                 title_of=lambda args: f"Run tests {args.target or ''}".rstrip(), preview_of=preview_run_tests)
