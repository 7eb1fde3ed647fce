"""`wren undo [N] [--session ID] [--list]`: restore the files of a checkpoint."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wren.core.errors import ExitCode
from wren.tools.checkpoints import CheckpointError, list_checkpoints, undo


def _listing(root: Path, session_id: str | None) -> str:
    found = list_checkpoints(root, session_id)
    if not found:
        return "no checkpoints yet: they are taken before each step that changes files"
    rows = [f"{c.session_id}  {c.n:>3}  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(c.created))}  "
            f"before: {c.label}" for c in found]
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    root = Path(args.cwd).expanduser() if args.cwd else Path.cwd()
    if not root.is_dir():
        sys.stderr.write(f"wren: --cwd {args.cwd} is not an existing directory\n")
        return ExitCode.USAGE
    try:
        if args.list:
            print(_listing(root, args.session))
            return ExitCode.FINISHED
        report = undo(root, args.session, args.n)
    except CheckpointError as exc:
        sys.stderr.write(f"wren: {exc}; `wren undo --list` shows the checkpoints\n")
        return ExitCode.USAGE
    print(report.text())
    return ExitCode.FINISHED
