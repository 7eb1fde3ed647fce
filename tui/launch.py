"""`wren` without a command: build the session's configuration, then open the UI."""
from __future__ import annotations

import argparse
import sys

from wren.core.errors import WrenError
from wren.agent.start import session_config, workspace_root


def run_tui(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write("wren: the terminal UI needs a terminal; for scripts and CI use `wren run PROMPT`\n")
        return 2
    try:
        cfg = session_config(workspace_root(args.cwd), model=args.model, api_base=args.api_base,
                             approval=args.approval, resume=args.resume, continue_last=args.continue_last,
                             interactive=True, effort=args.effort)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
    from wren.tui.app import WrenApp

    try:
        return WrenApp(cfg).run() or 0
    finally:
        if cfg.mcp is not None:
            cfg.mcp.close()
