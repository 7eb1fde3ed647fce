"""shell: run a command in the workspace, in the sandbox; stdin closed, timeout, nothing of it left running."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.core.events import CommandPreview
from wren.tools.base import Tool, ToolContext, ToolResult

DEFAULT_TIMEOUT_S = 120.0


class ShellArgs(BaseModel):
    command: str = Field(description="shell command, run with bash in the workspace root")
    timeout_s: float | None = Field(None, gt=0, le=3600, description="seconds before the command is killed")


def shell(args: ShellArgs, ctx: ToolContext) -> ToolResult:
    timeout = ctx.time_left(args.timeout_s or DEFAULT_TIMEOUT_S)
    done = ctx.commands.run(args.command, ctx.workspace.root, timeout, ctx.interrupt, ctx.sandbox, ctx.progress)
    status = f"killed: {done.killed}" if done.killed else f"exit code {done.exit_code}"
    body = done.output.rstrip("\n") or "(no output)"
    # Tool.run redacts the whole output, the command line included.
    # A non-zero exit is information for the model (grep finding nothing), not a failed tool call.
    return ToolResult(ok=not done.killed,
                      output=f"$ {args.command}\n{body}\n[{status}, {done.duration_s:.1f}s]",
                      exit_code=done.exit_code)


def preview_shell(args: ShellArgs, ctx: ToolContext) -> CommandPreview:
    """The command as it will run: in the workspace root, with its timeout."""
    return CommandPreview(command=args.command, cwd=str(ctx.workspace.root),
                          timeout_s=args.timeout_s or DEFAULT_TIMEOUT_S)


SHELL = Tool("shell", "Run a bash command (stdin closed).",
             ShellArgs, shell, kind="execute",
             more_hint="rerun with the output redirected to a file (cmd > out.txt 2>&1) and read_file a range of it",
             title_of=lambda args: f"Run `{args.command}`", preview_of=preview_shell)
