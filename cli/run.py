"""`wren run`: headless. Progress on stderr; the answer or JSON on stdout; exit code from the result."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from wren.agent.errors import ConfigError, ExitCode, WrenError
from wren.agent.events import Result
from wren.agent.ops import Interrupt, Shutdown, UserInput
from wren.cli.render import progress_line


def _read_prompt(arg: str) -> str:
    text = sys.stdin.read() if arg == "-" else arg
    if not text.strip():
        raise ConfigError("empty prompt; pass the task as an argument or on stdin with `-`")
    return text


def _workspace(arg: str | None) -> Path:
    root = Path(arg).expanduser() if arg else Path.cwd()
    if not root.is_dir():
        raise ConfigError(f"--cwd {arg} is not an existing directory; pass the repository to work in")
    return root.resolve()


def _start(args: argparse.Namespace):
    from wren.agent.approval import Policy
    from wren.agent.limits import Limits
    from wren.agent.log import find_session
    from wren.agent.models import resolve_backend
    from wren.agent.session import Session, SessionConfig
    from wren.agent.config import choose_model, load_config
    from wren.tools.base import default_registry

    root = _workspace(args.cwd)
    prompt = _read_prompt(args.prompt)
    config = load_config(root)
    resume_id = None
    if args.resume or args.continue_last:
        resume_id = find_session(root, args.resume).stem
    backend = resolve_backend(choose_model(args.model, config), api_base=args.api_base or config.api_base,
                              config=config)
    approval = args.approval or config.approval or "ask"
    limits = Limits(max_steps=args.max_steps or Limits.max_steps, max_cost_usd=args.max_cost, timeout_s=args.timeout)
    session = Session(SessionConfig(root=root, backend=backend, registry=default_registry(),
                                    policy=Policy(mode=approval), limits=limits, resume_id=resume_id,
                                    context=config.context))
    return session, prompt


def run_headless(args: argparse.Namespace) -> int:
    fmt = args.output_format
    try:
        session, prompt = _start(args)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        if fmt != "text":
            print(json.dumps({"type": "result", "session_id": None, "status": "error", "exit_code": exc.exit_code,
                              "summary": exc.message, "steps": 0,
                              "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
                              "files_changed": [], "duration_s": 0.0,
                              "error": {"kind": exc.kind, "message": exc.message}}))
        return exc.exit_code

    def on_sigint(signum, frame):
        # First Ctrl+C stops the turn cleanly (the log keeps everything); a second one exits now.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stderr.write("\nwren: interrupting (Ctrl+C again to quit at once)\n")
        session.submit(Interrupt())

    signal.signal(signal.SIGINT, on_sigint)
    session.submit(UserInput(text=prompt))
    session.submit(Shutdown())
    result: Result | None = None
    for event in session.events():
        if fmt == "stream-json":
            print(event.model_dump_json(), flush=True)
        elif line := progress_line(event):
            sys.stderr.write(line + "\n")
        if isinstance(event, Result):
            result = event
    if result is None:
        sys.stderr.write("wren: the session ended without a result\n")
        return ExitCode.NOT_FINISHED
    if fmt == "json":
        print(result.model_dump_json(exclude={"ts"}))
    elif fmt == "text" and result.summary:
        print(result.summary)
    return result.exit_code
