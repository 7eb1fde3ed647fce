"""shell: run a command in the workspace; stdin closed, timeout, whole process group killed."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.output import cap, strip_ansi
from wren.tools.redact import redact

DEFAULT_TIMEOUT_S = 120.0


class ShellArgs(BaseModel):
    command: str = Field(description="shell command, run with bash in the workspace root")
    timeout_s: float | None = Field(None, gt=0, le=3600, description="seconds before the command is killed")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_command(command: str, ctx: ToolContext, timeout_s: float) -> tuple[int | None, str, str]:
    """Returns (exit code or None when killed, merged output, why it was killed or '')."""
    proc = subprocess.Popen(["bash", "-c", command], cwd=ctx.workspace.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + ctx.time_left(timeout_s)
    chunks: list[bytes] = []
    killed = ""
    while True:
        try:
            out, _ = proc.communicate(timeout=0.2)
            chunks.append(out or b"")
            break
        except subprocess.TimeoutExpired:
            if proc.poll() is not None:
                # The shell ended but a background child keeps the pipe open: end the group.
                _kill_group(proc)
            elif ctx.interrupt.is_set():
                killed = "interrupted"
            elif time.monotonic() > deadline:
                killed = f"timed out after {timeout_s:g}s"
            if killed:
                _kill_group(proc)
    _kill_group(proc)  # nothing of the command outlives it
    text = redact(strip_ansi(b"".join(chunks).decode("utf-8", errors="replace")))
    return (None if killed else proc.returncode), text, killed


def shell(args: ShellArgs, ctx: ToolContext) -> ToolResult:
    timeout = args.timeout_s or DEFAULT_TIMEOUT_S
    started = time.monotonic()
    code, text, killed = run_command(args.command, ctx, timeout)
    took = time.monotonic() - started
    status = f"killed: {killed}" if killed else f"exit code {code}"
    body = cap(text, hint="redirect to a file and read_file a range for the rest") or "(no output)"
    return ToolResult(ok=not killed, output=f"$ {args.command}\n{body}\n[{status}, {took:.1f}s]",
                      exit_code=code)


SHELL = Tool("shell", "Run a bash command in the workspace root (stdin closed; output capped).",
             ShellArgs, shell, kind="execute")
