"""Which files a workspace has for the tools: git's listing (core/paths.py) checked against the
workspace's rules, and the files .gitignore hides."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from wren.core.paths import STATE_DIR, git_listing
from wren.tools.workspace import PathRefused, Workspace

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
