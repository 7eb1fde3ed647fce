"""Which files a workspace has: tracked plus untracked-not-ignored, as git sees them.

Outside a git repository the same rules apply through an empty private git directory, so
.gitignore files are honoured everywhere and list_files, grep and checkpoints agree.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from wren.tools.errors import ToolError
from wren.tools.fileio import TEMP_SUFFIX
from wren.tools.workspace import STATE_DIR, PathRefused, Workspace

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


def ignored_files(under: Path) -> list[str]:
    """Files below `under` that .gitignore (or git's other exclude files) hides, relative to it;
    ignored folders are not entered (`node_modules/` would be thousands). [] outside a repository."""
    cmd = ["git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", "."]
    try:
        proc = subprocess.run(cmd, cwd=under, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    return sorted(p for p in os.fsdecode(proc.stdout).split("\0")
                  if p and not p.endswith("/") and not p.startswith(f"{STATE_DIR}/"))


def workspace_files(ws: Workspace, under: Path) -> list[Path]:
    """Existing regular files below `under`, sorted by path, never leaving the workspace."""
    found = []
    for rel in git_listing(under):
        path = under / rel
        try:
            ws.resolve(ws.rel(path))  # the same rules as for a path the model names
        except PathRefused:
            continue  # a symlink that leaves the workspace or points into .git
        if path.is_file():  # not deleted-but-still-indexed, not a link to a folder
            found.append(path)
    return sorted(found, key=ws.rel)
