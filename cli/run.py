"""`wren run`: headless. Progress on stderr; the answer or JSON on stdout; exit code from the result.

Nothing waits for a person: approvals that would ask are denied, tools run with stdin closed, and
the prompt comes from the command line or from piped stdin, never from a terminal.
"""
from __future__ import annotations

import argparse
import io
import signal
import sys
import time
from dataclasses import dataclass, field

from wren.core.errors import ConfigError, ExitCode, WrenError
from wren.core.events import ErrorInfo, Result, Status, ToolResultEvent, Usage, UsageEvent
from wren.core.ops import Interrupt, PlanDecision, Shutdown, UserInput
from wren.core.paths import valid_text
from wren.cli.render import progress_line
from wren.agent.start import session_config, workspace_root
from wren.core.redact import redact


def _read_prompt(arg: str | None) -> str:
    if arg is None:
        raise ConfigError("no prompt: pass the task as an argument, or `-` to read it from stdin")
    if arg == "-" and sys.stdin.isatty():
        raise ConfigError("`-` reads the task from stdin, but stdin is a terminal; pipe the task in "
                          "(echo TASK | wren run -) or pass it as an argument")
    text = sys.stdin.read() if arg == "-" else arg
    # Bytes that are not UTF-8 (a Latin-1 terminal, a binary file piped in) reach Python as lone surrogates
    # (PEP 383), which no JSON log or provider takes: each becomes U+FFFD, the rest of the task stands.
    text = valid_text(text)
    if not text.strip():
        raise ConfigError("empty prompt; pass the task as an argument or on stdin with `-`")
    return text


def _start(args: argparse.Namespace):
    from wren.agent.limits import Limits
    from wren.agent.session import Session

    root = workspace_root(args.cwd)
    if args.plan_file is not None:  # `--plan-file ""` too: refused as no file, not ignored
        from pathlib import Path

        from wren.agent.plan import load_plan_file

        if args.prompt is not None:
            raise ConfigError("--plan-file carries out the plan as it is; edit the plan file instead of adding a prompt")
        if not args.plan_file.strip():
            raise ConfigError("--plan-file needs the path of a plan file (as `wren run --plan --output-format json` writes it)")
        prompt: str | PlanDecision = PlanDecision(decision="approve", plan=load_plan_file(Path(args.plan_file)))
    else:
        prompt = _read_prompt(args.prompt)
    limits = Limits(max_steps=args.max_steps or Limits.max_steps, max_cost_usd=args.max_cost, timeout_s=args.timeout)
    cfg = session_config(root, model=args.model, api_base=args.api_base, approval=args.approval,
                         resume=args.resume, continue_last=args.continue_last, limits=limits,
                         effort=args.effort, mode="plan" if args.plan else "act")
    try:
        return Session(cfg), prompt
    except BaseException:
        if cfg.mcp is not None:
            cfg.mcp.close()
        raise


def usage_result(message: str) -> Result:
    """The result object of a run whose command line was refused (exit 2, `session_id` null)."""
    return _failed_start(ConfigError(message))


def _failed_start(exc: WrenError, status: Status = "error", exit_code: int | None = None,
                  session_id: str | None = None, seen: "_Seen | None" = None) -> Result:
    """The result of a run that ended outside the session's own turn: refused before it started (`session_id`
    null, nothing done), or quit at once by a second Ctrl+C (the session and what `seen` counted so far)."""
    seen = seen or _Seen()
    return Result(session_id=session_id, status=status, exit_code=exc.exit_code if exit_code is None else exit_code,
                  summary=exc.message, steps=seen.steps, usage=seen.usage, files_changed=[],
                  duration_s=round(time.monotonic() - seen.started, 3) if session_id else 0.0,
                  error=ErrorInfo(kind=exc.kind, message=exc.message))


def _whole_writes() -> None:
    """Unbuffered (PYTHONUNBUFFERED, python -u), stdout writes straight to its file descriptor, and when a
    write to a full pipe is cut short by a signal, print() drops the rest of the line. A buffer in between
    writes all of it; line buffering keeps each line as prompt as unbuffered output."""
    out = sys.stdout
    if isinstance(getattr(out, "buffer", None), io.RawIOBase):
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(out.buffer), encoding=out.encoding, errors=out.errors,
                                      line_buffering=True)


def run_headless(args: argparse.Namespace) -> int:
    _whole_writes()
    if args.print_schema:
        from wren.cli.schema import shipped

        sys.stdout.write(shipped())
        return 0
    fmt = args.output_format
    try:
        session, prompt = _start(args)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        if fmt != "text":
            print(_failed_start(exc).model_dump_json(exclude={"ts"}))
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl+C while the model loads (seconds for a local GGUF): nothing has started, so nothing is lost.
        message = "interrupted before the session started"
        sys.stderr.write(f"\nwren: {message}\n")
        if fmt != "text":
            print(_failed_start(WrenError(message, kind="interrupted"), "interrupted", ExitCode.INTERRUPTED)
                  .model_dump_json(exclude={"ts"}))
        return ExitCode.INTERRUPTED

    def on_sigint(signum, frame):
        # First Ctrl+C stops the turn cleanly (the log keeps everything); a second one exits now.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stderr.write("\nwren: interrupting (Ctrl+C again to quit at once)\n")
        session.submit(Interrupt())

    terminated = []

    def on_sigterm(signum, frame):
        # What timeout, docker stop and CI cancellation send: stop as for Ctrl+C (the running command's
        # processes are killed), still print the result, and exit 143 as a process ended by SIGTERM does.
        terminated.append(signum)
        sys.stderr.write("\nwren: terminated (SIGTERM); stopping\n")
        session.submit(Interrupt(terminated=True))

    # The caller's handlers come back at the end: a process that runs sessions one after another
    # (wren batch's worker) must not keep this session's.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, on_sigint),
                signal.SIGTERM: signal.signal(signal.SIGTERM, on_sigterm)}
    seen = _Seen()
    try:
        session.submit(prompt if isinstance(prompt, PlanDecision) else UserInput(text=prompt))
        session.submit(Shutdown())
        result = _consume(session, fmt, args.include_diff, terminated, seen)
        # The result first: stopping MCP servers may take seconds, and must never cost the user the result.
        if result is None:
            sys.stderr.write("wren: the session ended without a result\n")
        elif fmt == "json":
            print(result.model_dump_json(exclude={"ts"}))
        elif fmt == "text" and result.plan is not None:
            from wren.agent.plan import render_plan

            print(render_plan(result.plan))
        elif fmt == "text" and result.summary:
            print(result.summary)
        if session.cfg.mcp is not None:
            session.cfg.mcp.close()
    except KeyboardInterrupt:  # the second Ctrl+C: quit now, and still say which session and how far it got
        message = (f"quit at once (a second Ctrl+C); the session log keeps what happened: "
                   f"wren sessions show {session.id}")
        sys.stderr.write(f"\nwren: {message}\n")
        if fmt != "text":
            print(_failed_start(WrenError(message, kind="interrupted"), "interrupted", ExitCode.INTERRUPTED,
                                session.id, seen).model_dump_json(exclude={"ts"}))
        return ExitCode.INTERRUPTED
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return ExitCode.NOT_FINISHED if result is None else result.exit_code


@dataclass
class _Seen:
    """How far the run got, for the result of a second Ctrl+C (which leaves no time for the session's own)."""
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)


def _consume(session, fmt: str, include_diff: bool, terminated: list[int], seen: _Seen) -> Result | None:
    """Print the events as the format asks; the result, with its diff when asked for, and exit 143 when
    a SIGTERM (in `terminated`) stopped the run, in every place the result is shown."""
    result: Result | None = None
    tool_diffs: list[str] = []
    for event in session.events():
        if isinstance(event, UsageEvent):
            seen.steps, seen.usage = seen.steps + 1, event.total
        if isinstance(event, ToolResultEvent) and event.diff:
            tool_diffs.append(event.diff)
        if isinstance(event, Result):
            if terminated:
                event = event.model_copy(update={"exit_code": ExitCode.TERMINATED})
            result = event
            if include_diff:
                from wren.cli.diff import changes_diff

                diff = changes_diff(session.workspace.root, event.files_changed, tool_diffs)
                result = event.model_copy(update={"diff": redact(diff) if diff else diff})
            event = result
        if fmt == "stream-json":
            print(event.model_dump_json(), flush=True)
        elif line := progress_line(event):
            sys.stderr.write(line + "\n")
    return result
