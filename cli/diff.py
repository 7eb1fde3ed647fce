"""`wren run --include-diff`: the diff of the files a run changed, for CI to review or apply."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from wren.core.paths import unshown


def changes_diff(root: Path, files: list[str], tool_diffs: list[str]) -> str:
    """From git when the workspace is a repo with a commit (against HEAD, new files included);
    otherwise the diffs the edit tools reported, in order."""
    if not files:
        return ""
    files = [unshown(f) for f in files]  # names as on disk, not as shown
    from_git = _git_diff(root, files)
    return from_git if from_git is not None else "".join(d if d.endswith("\n") else d + "\n" for d in tool_diffs)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    # errors="replace": a file whose bytes are not UTF-8 must not cost the run its diff.
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL)


def _git_diff(root: Path, files: list[str]) -> str | None:
    if _git(root, "rev-parse", "--verify", "-q", "HEAD").returncode != 0:
        return None  # not a repo, or no commit to compare with
    listed = subprocess.run(["git", "ls-files", "-z", "--", *files], cwd=root, capture_output=True,
                            stdin=subprocess.DEVNULL).stdout
    tracked = set(os.fsdecode(listed).split("\0"))
    parts = []
    changed = [f for f in files if f in tracked]
    if changed:
        parts.append(_git(root, "diff", "--no-color", "HEAD", "--", *changed).stdout)
    for new in (f for f in files if f not in tracked and (root / f).is_file()):
        # --no-index exits 1 when the files differ, which they do: that is the diff we want.
        parts.append(_git(root, "diff", "--no-color", "--no-index", "--", "/dev/null", new).stdout)
    return "".join(parts)
