"""Run a command so that nothing of it outlives it.

The command gets its own process group and a tag in its environment. On timeout,
interrupt, or when it ends leaving children behind, the group and every process still
carrying the tag (which catches children that started a new session) get SIGTERM, then
SIGKILL. Output is read as it comes, keeping the head and the tail when it is huge.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from wren.tools.output import clean_terminal
from wren.core.redact import redact, secret_values
from wren.tools.sandbox import Sandbox

TAG = "WREN_PROCESS_TAG"
KEEP_BYTES = 1_000_000  # kept from each end of the output; the middle of anything larger is dropped
GRACE_S = 1.0           # between SIGTERM and SIGKILL
STOP_AFTER_S = 1.0      # after run's `stop_on` marker: time to write the rest of what it is printing
# Commands never wait for a person: with stdin closed, an editor, a pager or a credential prompt
# would stall until the timeout (`git commit` without -m opened an editor and waited).
NONINTERACTIVE = {"GIT_EDITOR": "true", "EDITOR": "true", "VISUAL": "true", "GIT_SEQUENCE_EDITOR": "true",
                  "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat",
                  "DEBIAN_FRONTEND": "noninteractive"}


@dataclass
class ProcessResult:
    exit_code: int | None  # None when killed
    output: str            # merged stdout and stderr, ANSI-stripped, secrets redacted
    killed: str            # why it was killed, or ""
    duration_s: float


class _Capture:
    """Head and tail of a byte stream; the middle of a huge one is counted, not kept."""

    def __init__(self, watch: bytes = b"") -> None:
        self.head, self.tail, self.dropped = bytearray(), bytearray(), 0
        self.watch = watch  # run's `stop_on` marker
        self.seen_at: float | None = None  # when it was first read (time.monotonic)
        self._edge = b""  # the last bytes of the chunk before: a marker may be split between two reads

    def add(self, chunk: bytes) -> None:
        if self.watch and self.seen_at is None:
            if self.watch in self._edge + chunk:
                self.seen_at = time.monotonic()
            self._edge = (self._edge + chunk)[-len(self.watch):]
        room = KEEP_BYTES - len(self.head)
        self.head += chunk[:room]
        self.tail += chunk[room:] if room > 0 else chunk
        if len(self.tail) > KEEP_BYTES:
            cut = len(self.tail) - KEEP_BYTES
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        head = clean_terminal(self.head.decode("utf-8", errors="replace"))
        tail = clean_terminal(self.tail.decode("utf-8", errors="replace"))
        if not self.dropped:
            return redact(head + tail)
        # A secret split by the cut would escape redaction: trim the cut edges by the longest secret.
        edge = max((len(v) for v in secret_values().values()), default=0)
        head, tail = redact(head), redact(tail)
        head, tail = head[: len(head) - edge], tail[edge:]
        return f"{head}\n[... {self.dropped + 2 * edge} bytes of output dropped ...]\n{tail}"


def _tagged(tag: str) -> list[int]:
    """Processes whose environment carries the tag (Linux; elsewhere the process group must do)."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self/environ").exists() else []:
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


def _signal_all(pgid: int, tag: str, sig: int) -> bool:
    """Send sig to the group and the tagged processes; True if any was still there."""
    alive = False
    try:
        os.killpg(pgid, sig)
        alive = True
    except (ProcessLookupError, PermissionError):
        pass
    for pid in _tagged(tag):
        try:
            os.kill(pid, sig)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def end_everything(proc: subprocess.Popen, tag: str) -> None:
    """SIGTERM, a grace period, then SIGKILL for whatever is left of the command."""
    if not _signal_all(proc.pid, tag, signal.SIGTERM):
        return
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        proc.poll()  # reap the shell itself, so its group can disappear
        if not _tagged(tag) and _group_gone(proc.pid):
            return
        time.sleep(0.05)
    for _ in range(5):  # a process forking while we kill gets another round
        if not _signal_all(proc.pid, tag, signal.SIGKILL):
            return
        time.sleep(0.05)
        proc.poll()


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return True
    return False


def _reader(stream, capture: _Capture) -> None:
    while chunk := stream.read1(65536):
        capture.add(chunk)


def run(command: str, cwd: Path, timeout_s: float, interrupt: threading.Event, sandbox: Sandbox,
        stop_on: tuple[bytes, str] | None = None) -> ProcessResult:
    """Run with bash in cwd, the workspace root, inside the sandbox; ToolError when the sandbox refuses it.
    `stop_on` (MARKER, WHY): once MARKER shows in the output, the command is given STOP_AFTER_S to finish
    writing, then killed, `killed` saying WHY."""
    argv = sandbox.wrap(["bash", "-c", command], cwd)
    tag = secrets.token_hex(8)
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **NONINTERACTIVE, TAG: tag})
    assert proc.stdout is not None  # stdout=PIPE
    capture = _Capture(stop_on[0] if stop_on else b"")
    reader = threading.Thread(target=_reader, args=(proc.stdout, capture), daemon=True)
    reader.start()
    killed = ""
    while reader.is_alive():
        reader.join(0.05)
        marked = capture.seen_at
        if interrupt.is_set():
            killed = "interrupted"
        elif time.monotonic() - started > timeout_s:
            killed = f"timed out after {timeout_s:g}s"
        elif stop_on and marked is not None and time.monotonic() - marked > STOP_AFTER_S:
            killed = stop_on[1]
        elif proc.poll() is not None:
            reader.join(0.5)  # a background child may still hold the output open; it is ended below
            break
        if killed:
            break
    end_everything(proc, tag)
    reader.join(5)
    proc.stdout.close()
    proc.wait()
    return ProcessResult(None if killed else proc.returncode, capture.text(), killed,
                         round(time.monotonic() - started, 3))
