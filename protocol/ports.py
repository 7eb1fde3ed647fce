"""The editor's side of the tools' ports (tools/ports.py): files over fs/*, commands in terminal/*.

The tools keep their one body; only where the bytes come from and go to changes. Reads through the
editor see its unsaved buffers, writes land in them; commands run in a terminal the user watches.
Where the editor lacks a capability, the disk or a local process serves instead.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from acp.schema import EnvVariable

from wren.core.fileio import TextFile
from wren.core.errors import ToolError
from wren.core.redact import redact
from wren.protocol.bridge import Bridge
from wren.tools.loop_thread import Stopped
from wren.tools.output import clean_terminal
from wren.tools.ports import DiskFiles, FileStat, LocalCommands, Progress
from wren.tools.process import NONINTERACTIVE, ProcessResult
from wren.tools.sandbox import Sandbox

OUTPUT_BYTES = 1_000_000  # what the editor keeps of a command's output; the shell tool caps it for the prompt


@dataclass
class EditorFiles:
    """Files through fs/read_text_file and fs/write_text_file where the editor offers them, else the disk."""
    bridge: Bridge
    read_remote: bool
    write_remote: bool
    disk: DiskFiles = field(default_factory=DiskFiles)

    def stat(self, path: Path) -> FileStat:
        # ACP has no stat: the disk says what exists (an unsaved new buffer is not a file yet).
        return self.disk.stat(path)

    def read(self, path: Path) -> TextFile:
        if not self.read_remote:
            return self.disk.read(path)
        reply = self.bridge.call(lambda: self.bridge.client.read_text_file(
            session_id=self.bridge.session_id, path=str(path)), f"reading {path}")
        if "\x00" in reply.content[:8192]:
            raise ToolError(f"{path.name} is a binary file; it cannot be shown or edited as text")
        return TextFile.from_text(reply.content)

    def write(self, path: Path, raw: str, like: TextFile | None = None) -> None:
        if not self.write_remote:
            return self.disk.write(path, raw, like)
        self.bridge.call(lambda: self.bridge.client.write_text_file(
            session_id=self.bridge.session_id, path=str(path), content=raw), f"writing {path}")


@dataclass
class EditorCommands:
    """Commands in editor terminals (terminal/*) where the editor offers them, else local processes.

    The terminal is shown on the call (a ToolProgress with its id) and always released."""
    bridge: Bridge
    remote: bool
    local: LocalCommands = field(default_factory=LocalCommands)

    def run(self, command: str, cwd: Path, timeout_s: float, interrupt: threading.Event, sandbox: Sandbox,
            progress: Progress) -> ProcessResult:
        if not self.remote:
            return self.local.run(command, cwd, timeout_s, interrupt, sandbox, progress)
        bridge, client = self.bridge, self.bridge.client
        sid = bridge.session_id  # read now: a new session learns its id after its ports are made
        started = time.monotonic()
        argv = sandbox.wrap(["bash", "-c", command], cwd)
        created = bridge.call(lambda: client.create_terminal(
            session_id=sid, command=argv[0], args=argv[1:], cwd=str(cwd),
            env=[EnvVariable(name=k, value=v) for k, v in NONINTERACTIVE.items()],
            output_byte_limit=OUTPUT_BYTES), "terminal/create")
        tid = created.terminal_id
        progress(terminal_id=tid)
        killed = ""
        try:
            try:
                bridge.call(lambda: client.wait_for_terminal_exit(session_id=sid, terminal_id=tid),
                            "the command", timeout_s=timeout_s)
            except Stopped as stop:
                killed = stop.why
                bridge.call(lambda: client.kill_terminal(session_id=sid, terminal_id=tid), "terminal/kill", watch=False)
            out = bridge.call(lambda: client.terminal_output(session_id=sid, terminal_id=tid), "terminal/output",
                              watch=False)
        finally:
            bridge.call(lambda: client.release_terminal(session_id=sid, terminal_id=tid), "terminal/release",
                        watch=False)
        code = None if killed or out.exit_status is None else out.exit_status.exit_code
        return ProcessResult(code, redact(clean_terminal(out.output)), killed, round(time.monotonic() - started, 3))
