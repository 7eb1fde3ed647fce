"""`wren index`: build or update the workspace's code index, with a progress bar on stderr."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from wren.core.errors import ConfigError, WrenError

PHASES = {"scan": "scanning", "chunk": "chunking", "embed": "embedding"}
BAR = 30


class ProgressBar:
    """Redrawn in place on a terminal; on a pipe or a CI log, one line per phase when it ends."""

    def __init__(self, out: TextIO, quiet: bool = False) -> None:
        self.out, self.quiet, self.tty = out, quiet, out.isatty()
        self.shown = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet or not total:
            return
        label = PHASES.get(phase, phase)
        if not self.tty:
            if done >= total:
                self.out.write(f"wren index: {label} {total}/{total}\n")
            return
        now = time.monotonic()
        if done < total and now - self.shown < 0.1:
            return
        self.shown = now
        filled = BAR * done // total
        self.out.write(f"\r{label:>9} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}\x1b[K")
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def _use_server(url: str, root: Path) -> None:
    """Point this process's stores at the server (context/chroma.py reads WREN_CHROMA_URL);
    ConfigError for a bad URL or a server that does not answer."""
    import os

    from wren.context.chroma import URL_ENV, parse_url, ping
    from wren.core.config import load_config

    server = parse_url(url, load_config(root).chroma.headers)
    try:
        ping(server)
    except ConnectionError as exc:
        raise ConfigError(str(exc)) from None
    os.environ[URL_ENV] = url


def run(args: argparse.Namespace) -> int:
    from wren.context.shared_index import workspace_index

    root = Path(args.cwd).expanduser() if args.cwd else Path.cwd()
    try:
        if not root.is_dir():
            raise ConfigError(f"--cwd {args.cwd} is not an existing directory")
        if args.chroma:
            _use_server(args.chroma, root)
        index = workspace_index(root.resolve(), lambda message: sys.stderr.write(f"wren: warning: {message}\n"),
                                embed=not args.lexical_only)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
    try:
        stats = index.update(ProgressBar(sys.stderr, args.quiet), dense=not args.lexical_only)
    finally:
        index.close()
    vectors = "no embeddings (lexical only)" if index.store is None else \
        f"{stats.embedded} chunks embedded, {stats.pending} waiting"
    print(f"indexed {stats.files} files: {stats.changed} changed, {stats.removed} removed, "
          f"{stats.chunks} chunks written; {vectors} ({stats.seconds:.1f}s)")
    return 0
