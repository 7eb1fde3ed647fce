"""Workspace paths as every part of Wren sees them: Wren's state folder, the files git lists, and
file names as text (bytes that are not UTF-8, held as PEP 383 surrogates, shown as \\xNN).

Outside a git repository the same listing rules apply through an empty private git directory, so
.gitignore files are honoured everywhere and list_files, grep, checkpoints and the index agree.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from wren.core.errors import ConfigError, ToolError
from wren.core.fileio import TEMP_SUFFIX

# Wren's own state (session logs, checkpoints): the model reads it at most, never writes it.
STATE_DIR = ".wren"


def state_dir(root: Path) -> Path:
    """`root`/.wren, made when missing, holding a .gitignore of `*` (as pytest's and mypy's caches do), so that
    `git status` does not list Wren's state and `git add -A` does not commit session logs. An existing
    .gitignore there is the user's and is left as it is. Raises ConfigError (exit 2) where it cannot be written."""
    folder = root / STATE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Wren's state (session logs, checkpoints, memory): made by Wren, not for commits.\n*\n")
    except OSError as exc:
        raise ConfigError(f"cannot write Wren's state folder {folder} ({exc.strerror or exc}): the session log and "
                          "checkpoints live there; make it writable, or run in a writable copy") from None
    return folder

_ESCAPED_BYTE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def valid_text(text: str) -> str:
    """`text` as valid Unicode for a log or a model: lone surrogates, which no JSON log or provider takes, become
    U+FFFD, one per escaped byte (PEP 383: bytes that were not UTF-8) or per other surrogate (a `\\ud800` escape in
    JSON). Other text is unchanged."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def shown(text: str) -> str:
    """`text` as UTF-8 can carry it (to the model, to JSON): bytes of a file name that are not UTF-8,
    which Python holds as lone surrogates (PEP 383, os.fsdecode), become `\\xNN`. Other text is unchanged."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte (from "\ud800" in JSON)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unshown(text: str) -> str:
    """The file name that `shown` wrote as `text`: each `\\xNN` (NN 80-FF) back to its byte."""
    return os.fsdecode(_unescape_bytes(text)) if "\\x" in text else text


def _unescape_bytes(text: str) -> bytes:
    out, at = bytearray(), 0
    for m in _ESCAPED_BYTE.finditer(text):
        out += text[at:m.start()].encode("utf-8", "surrogateescape") + bytes([int(m.group(1), 16)])
        at = m.end()
    return bytes(out + text[at:].encode("utf-8", "surrogateescape"))


# Untracked folders that are never source, even where no .gitignore says so.
NEVER_LISTED = ("node_modules/", ".venv/", "venv/", "__pycache__/", ".mypy_cache/", ".pytest_cache/", ".tox/",
                f"{STATE_DIR}/")


@lru_cache(maxsize=1)
def empty_git_dir() -> str:
    path = tempfile.mkdtemp(prefix="wren-git-")
    atexit.register(shutil.rmtree, path, True)
    subprocess.run(["git", "init", "-q", "--bare", path], check=True, capture_output=True, timeout=30)
    return path


def _ls_files(under: Path, env: dict[str, str] | None) -> subprocess.CompletedProcess:
    # A file being written atomically (or one a killed writer left) is never part of the workspace.
    excludes = [f"--exclude={d}" for d in NEVER_LISTED] + [f"--exclude=*{TEMP_SUFFIX}"]
    cmd = ["git", "-c", "core.quotepath=off", "ls-files", "-z", "--cached", "--others", *excludes, "--exclude-standard",
           "--", ".", f":(exclude,glob)**/{STATE_DIR}/**"]
    return subprocess.run(cmd, cwd=under, capture_output=True, timeout=60, env=env)


def git_listing(under: Path) -> list[str]:
    """Paths relative to `under` that git lists there, using a private empty repository outside one."""
    try:
        proc = _ls_files(under, None)
        if proc.returncode != 0:
            env = {**os.environ, "GIT_DIR": empty_git_dir(), "GIT_WORK_TREE": str(under)}
            proc = _ls_files(under, env)
    except FileNotFoundError:
        raise ToolError("git is not installed, and Wren needs it to list files; install git") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"listing {under} took over a minute; narrow the path") from None
    if proc.returncode != 0:
        raise ToolError(f"cannot list {under}: {proc.stderr.decode(errors='replace').strip()}")
    # Nested repositories show as 'dir/'; their files belong to them, not to this workspace.
    return sorted({p for p in os.fsdecode(proc.stdout).split("\0") if p and not p.endswith("/")})
