"""The session log: one JSON event per line under .wren/sessions/, appended and flushed as it happens.

The log is the truth: --resume rebuilds the conversation from it.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Callable, TypeVar

from pydantic import ValidationError

from wren.core.errors import ConfigError
from wren.core.events import EVENT_ADAPTER, Event

T = TypeVar("T")


def sessions_dir(root: Path) -> Path:
    return root / ".wren" / "sessions"


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class SessionLog:
    """One session's log, open for appending by this process alone: an exclusive advisory lock (flock) is held
    while it is open, so a second Wren resuming the same session (`wren run --resume` while an editor or the
    terminal UI has it open) is refused with ConfigError (exit 2) instead of interleaving its events, which left
    tool calls without results and the session unresumable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no flock; one writer is the user's to keep
            pass
        except OSError:
            self._fh.close()
            raise ConfigError(f"session {path.stem} is open in another Wren (a run, the terminal UI or an editor); "
                              "two writers would interleave its log: wait for it to end, or start a new session") \
                from None
        mend_tail(path, _event)  # only the writer mends

    def append(self, event: Event) -> None:
        self._fh.write(event.model_dump_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def find_session(root: Path, session_id: str | None) -> Path:
    """The log of `session_id`, or of the most recent session when it is None (--continue)."""
    folder = sessions_dir(root)
    if session_id is None:
        logs = sorted((p for p in folder.glob("*.jsonl") if p.is_file()), key=lambda p: p.stat().st_mtime) \
            if folder.is_dir() else []
        if not logs:
            raise ConfigError(f"no previous session in {folder}; start one without --continue")
        return logs[-1]
    path = folder / f"{session_id}.jsonl"
    if not path.is_file():
        raise ConfigError(f"no session {session_id!r} in {folder}; `wren sessions list` shows the ids there")
    return path


def _event(line: bytes) -> Event | None:
    try:
        return EVENT_ADAPTER.validate_json(line)
    except ValidationError:  # also what bytes that are not UTF-8 raise
        return None


def read_events(path: Path) -> list[Event]:
    return read_jsonl(path, _event, "session log")


def read_jsonl(path: Path, parse: Callable[[bytes], T | None], what: str) -> list[T]:
    """The records of a JSONL file that is only ever appended to; `parse` gives None for a line it cannot read.

    Lines split on \n only: JSON may hold U+2028 or U+0085 unescaped, which str.splitlines splits on.
    """
    lines = path.read_bytes().split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = parse(line)
        if record is not None:
            records.append(record)
        elif n != len(lines):
            # A last line cut short by a crash is the only expected damage; the rest is intact.
            raise ConfigError(f"{what} {path} is damaged at line {n}")
    return records


def mend_tail(path: Path, parse: Callable[[bytes], object | None]) -> None:
    """Before appending to a JSONL file: a crash mid-append leaves the last line without its newline, and the
    next record would be glued onto it. A whole record gets its newline back; a fragment is cut off."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        if parse(data[cut:]) is None:
            fh.truncate(cut)
        else:
            fh.seek(0, 2)
            fh.write(b"\n")
