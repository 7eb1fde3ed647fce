"""Where a tool's bytes come from and go to: the ports of ToolContext, and their disk and subprocess sides.

Each tool has one body. Its file reads and writes go through `ctx.files` and its commands through
`ctx.commands`; the session hands a tool the workspace's disk and a local subprocess runner, an
editor (ACP, protocol/ports.py) its own buffers and terminals. So the model sees the same tools,
with the same checks, wherever they run.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wren.core.fileio import TextFile, atomic_write
from wren.tools.process import ProcessResult, run
from wren.tools.sandbox import Sandbox

@dataclass(frozen=True)
class FileStat:
    """What a path is: `size` in bytes (0 for a directory or a missing path)."""
    exists: bool
    is_dir: bool = False
    size: int = 0

class Files(Protocol):
    """Reads and writes of workspace files, by absolute path (already checked by Workspace.resolve)."""

    def stat(self, path: Path) -> FileStat:
        """Whether `path` exists, is a directory, and its size."""
        ...

    def read(self, path: Path) -> TextFile:
        """The file's text with its encoding and line endings; ToolError when it is binary,
        OSError when it cannot be read."""
        ...

    def write(self, path: Path, raw: str, like: TextFile | None = None) -> None:
        """Replace the file's content with `raw` (its line endings as they should be on disk), in the
        encoding and byte-order mark of `like` (the file as read before), UTF-8 for a new file."""
        ...

class DiskFiles:
    """The workspace on disk: atomic writes that keep a file's encoding and mode bits."""

    def stat(self, path: Path) -> FileStat:
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return FileStat(exists=False)
        return FileStat(exists=True, is_dir=path.is_dir(), size=0 if path.is_dir() else info.st_size)

    def read(self, path: Path) -> TextFile:
        return TextFile.read(path)

    def write(self, path: Path, raw: str, like: TextFile | None = None) -> None:
        atomic_write(path, (like or TextFile("")).encode(raw))

class Commands(Protocol):
    """Runs a bash command so that nothing of it outlives it."""

    def run(self, command: str, cwd: Path, timeout_s: float, interrupt: threading.Event, sandbox: Sandbox,
            progress: "Progress") -> ProcessResult:
        """Run `command` with bash in `cwd` inside `sandbox`, killed after `timeout_s` seconds or as soon as
        `interrupt` is set; output merged, ANSI-stripped and redacted. ToolError when it cannot start."""
        ...

class LocalCommands:
    """Commands as local subprocesses (tools/process.py)."""

    def run(self, command: str, cwd: Path, timeout_s: float, interrupt: threading.Event, sandbox: Sandbox,
            progress: "Progress") -> ProcessResult:
        return run(command, cwd, timeout_s, interrupt, sandbox)

class Progress(Protocol):
    """What a running tool reports; the session emits each report as a ToolProgress event of its call."""

    def __call__(self, text: str = "", terminal_id: str | None = None) -> None: ...

def no_progress(text: str = "", terminal_id: str | None = None) -> None:
    """A Progress that goes nowhere: a tool run outside a session."""
