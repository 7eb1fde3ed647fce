"""Atomic, format-preserving file IO shared by the editing tools.

A file is edited through its text with \n newlines; the bytes written back keep its
encoding, byte-order mark, line endings (per line: untouched lines keep theirs, new
lines get the file's usual one) and mode bits.
"""
from __future__ import annotations

import bisect
import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from wren.core.errors import ToolError

try:
    import fcntl
except ImportError:  # Windows: no locks, so temporary files a crash leaves are not swept
    fcntl = None  # type: ignore[assignment]  # the module or None; every use checks for None

BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


@dataclass
class TextFile:
    raw: str                  # the decoded text as on disk, \r\n kept
    encoding: str = "utf-8"
    bom: bytes = b""
    newline: str = "\n"       # the file's usual line ending, for lines an edit adds
    text: str = field(init=False)  # `raw` with \n newlines: what matching and diffs see
    _crlf: list[int] = field(init=False, default_factory=list, repr=False)  # where \r\n stood, offsets in `text`

    def __post_init__(self) -> None:
        self.text = self.raw.replace("\r\n", "\n")
        at, removed = self.raw.find("\r\n"), 0
        while at != -1:
            self._crlf.append(at - removed)
            removed += 1
            at = self.raw.find("\r\n", at + 2)

    @classmethod
    def read(cls, path: Path) -> "TextFile":
        data = path.read_bytes()
        bom, encoding = next(((b, e) for b, e in BOMS if data.startswith(b)), (b"", "utf-8"))
        if not bom and b"\x00" in data[:8192]:
            raise ToolError(f"{path.name} is a binary file; it cannot be edited as text")
        try:
            raw = data[len(bom):].decode(encoding)
        except UnicodeDecodeError:
            # latin-1 maps every byte to one character, so untouched bytes round-trip exactly.
            raw, encoding = data[len(bom):].decode("latin-1"), "latin-1"
        return cls.from_text(raw, encoding, bom)

    @classmethod
    def from_text(cls, raw: str, encoding: str = "utf-8", bom: bytes = b"") -> "TextFile":
        """A file from its decoded text (\r\n kept); its usual line ending is the one most lines have."""
        crlf = raw.count("\r\n")
        return cls(raw, encoding, bom, "\r\n" if crlf and crlf * 2 >= raw.count("\n") else "\n")

    def _raw_offset(self, offset: int) -> int:
        return offset + bisect.bisect_left(self._crlf, offset)

    def replaced(self, edits: list[tuple[int, int, str]]) -> str:
        """The raw text with (start, end, new) edits applied; offsets are into `text`."""
        raw = self.raw
        for start, end, new in sorted(edits, reverse=True):
            raw = raw[: self._raw_offset(start)] + new.replace("\n", self.newline) + raw[self._raw_offset(end):]
        return raw

    def encode(self, raw: str) -> bytes:
        try:
            return self.bom + raw.encode(self.encoding)
        except UnicodeEncodeError as exc:
            bad = raw[exc.start: exc.end]
            raise ToolError(f"the file is {self.encoding}, which cannot hold {bad!r}; use characters it has "
                            "(or write the file anew with write_file to make it UTF-8)") from None


def _new_file_mode() -> int:
    """0o666 less the umask, read without changing it where /proc tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


TEMP_SUFFIX = ".wren-tmp"


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename: a crash leaves old or new, never half.

    The writer holds a lock on its temp file until the rename, so the next write to the same path can
    tell a temp file that a killed writer left behind from one still being written, and remove it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(path)
    st = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, st.st_mode & 0o7777 if st else _new_file_mode())
        if st and hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # only root may give a file away; the content and mode still carry over
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def _sweep_stale(path: Path) -> None:
    """Remove the temp files of earlier writes to `path` whose writer died before its rename (kill -9, a crash)."""
    if fcntl is None:
        return
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and n.endswith(TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        try:
            fd = os.open(path.parent / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken only when no live writer holds it
            os.unlink(path.parent / name)
        except OSError:
            pass
        finally:
            os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lines(text: str) -> list[str]:
    """Lines with their \n, split on \n only (str.splitlines also splits on \f, \x1c, U+2028 ...)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def unified_diff(rel: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(_lines(before), _lines(after), fromfile=f"a/{rel}", tofile=f"b/{rel}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
