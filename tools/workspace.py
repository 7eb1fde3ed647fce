"""Workspace rules: every path resolves inside the root; `.git` is never written."""
from __future__ import annotations

import os
from pathlib import Path


from wren.tools.errors import ToolError


class PathRefused(ToolError):
    """A path outside the workspace, or a write under .git; the message tells the model why."""


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, path: str, *, write: bool = False) -> Path:
        if "\x00" in path:
            raise PathRefused(f"path {path!r} contains a NUL byte")
        raw = Path(os.path.expanduser(path)) if path.startswith("~") else Path(path)
        candidate = raw if raw.is_absolute() else self.root / raw
        # resolve() follows symlinks, so a link that leaves the root is caught here too.
        resolved = candidate.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise PathRefused(f"path {path!r} is outside the workspace {self.root}; "
                              "use a path relative to the workspace root")
        if write and ".git" in resolved.relative_to(self.root).parts:
            raise PathRefused(f"path {path!r} is inside .git, which tools never write")
        return resolved

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."
