"""Atomic, format-preserving file IO shared by the editing tools."""
from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TextFile:
    """A file's text with \n newlines, plus what is needed to write it back the same way."""
    text: str
    newline: str = "\n"
    encoding: str = "utf-8"
    bom: bool = False

    @classmethod
    def read(cls, path: Path) -> "TextFile":
        data = path.read_bytes()
        bom = data.startswith(b"\xef\xbb\xbf")
        if bom:
            data = data[3:]
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        newline = "\r\n" if "\r\n" in text else "\n"
        return cls(text.replace("\r\n", "\n"), newline, encoding, bom)

    def encode(self, text: str) -> bytes:
        data = text.replace("\n", self.newline).encode(self.encoding, errors="replace")
        return (b"\xef\xbb\xbf" + data) if self.bom else data


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename: a crash leaves old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".wren-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unified_diff(rel: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{rel}", tofile=f"b/{rel}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
