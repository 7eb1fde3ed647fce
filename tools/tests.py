"""run_tests: detect the project's test runner, run it, summarise the outcome for the model."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.errors import ToolError
from wren.tools.output import cap
from wren.tools.shell import run_command

TEST_TIMEOUT_S = 600.0


def detect_runner(root: Path) -> str:
    if (root / "package.json").is_file():
        scripts = json.loads((root / "package.json").read_text() or "{}").get("scripts", {})
        if "test" in scripts:
            return "npm test --silent"
    if (root / "go.mod").is_file():
        return "go test ./..."
    if (root / "Cargo.toml").is_file():
        return "cargo test"
    python_markers = ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", "setup.py"]
    if any((root / m).exists() for m in python_markers) or any(root.glob("**/test_*.py")):
        pytest = shutil.which("pytest")
        base = shlex.quote(pytest) if pytest else f"{shlex.quote(sys.executable)} -m pytest"
        return f"{base} -q -rfE --tb=short --no-header -p no:cacheprovider"
    raise ToolError("no test runner found (pytest, npm test, go test, cargo test); "
                    "use shell to run the project's tests")


PYTEST_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped)")
PYTEST_FAILED = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
PYTEST_LOCATION = re.compile(r"^(\S+\.py):(\d+): ", re.M)


def summarise_pytest(output: str) -> str:
    last = output.strip().splitlines()[-1] if output.strip() else ""
    counts = {kind: int(n) for n, kind in PYTEST_SUMMARY.findall(last)}
    failures = PYTEST_FAILED.findall(output)
    if not counts and not failures:
        return ""
    head = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no summary line"
    lines = [f"Tests: {head}."]
    locations = PYTEST_LOCATION.findall(output)
    for i, (kind, test_id, reason) in enumerate(failures[:10]):
        where = next((f" at {f}:{n}" for f, n in locations if f in test_id), "")
        lines.append(f"{kind} {test_id}{where}: {reason or '(see output)'}")
    return "\n".join(lines)


class RunTestsArgs(BaseModel):
    target: str | None = Field(None, description="test file, directory or test id; default: the whole suite")


def run_tests(args: RunTestsArgs, ctx: ToolContext) -> ToolResult:
    command = detect_runner(ctx.workspace.root)
    if args.target:
        ctx.workspace.resolve(args.target.split("::", 1)[0])
        command += f" {shlex.quote(args.target)}"
    started = time.monotonic()
    code, text, killed = run_command(command, ctx, TEST_TIMEOUT_S)
    took = time.monotonic() - started
    summary = summarise_pytest(text) if "pytest" in command else ""
    status = f"killed: {killed}" if killed else f"exit code {code}"
    body = f"$ {command}\n{summary + chr(10) if summary else ''}{cap(text, 8000)}\n[{status}, {took:.1f}s]"
    return ToolResult(ok=code == 0, output=body, exit_code=code)


RUN_TESTS = Tool("run_tests", "Run the project's tests (pytest, npm, go, cargo) and summarise failures.",
                 RunTestsArgs, run_tests, kind="execute")
