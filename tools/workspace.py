"""Workspace rules: every path resolves inside the root; tools never touch `.git` and never write `.wren`."""
from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path, PurePosixPath

from wren.core.errors import ToolError
from wren.core.paths import STATE_DIR, unshown


# Names that usually hold credentials. Templates (.env.example) are meant to be shared, so they pass.
SECRET_NAMES = (".env", ".env.*", "*.env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "*.pem", "*.key",
                "*.p12", "*.pfx", "*.jks", "*.keystore", ".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc",
                "credentials", "credentials.json", ".git-credentials", "secrets.*", "*.secret", "*.secrets")
NOT_SECRET = ("*.example", "*.sample", "*.template", "*.dist", "*.pub")


def looks_secret(path: str) -> bool:
    """True when the last component of `path` is named like a file that holds credentials."""
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    if not name or any(fnmatch.fnmatchcase(name, p) for p in NOT_SECRET):
        return False
    return any(fnmatch.fnmatchcase(name, p) for p in SECRET_NAMES)


class PathRefused(ToolError):
    """A path outside the workspace, into .git, or a write into .wren; the message tells the model why."""


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, path: str, *, write: bool = False) -> Path:
        """The real path (symlinks followed) of `path`, or PathRefused with what to do instead."""
        resolved = self._real(path)
        if resolved != self.root and self.root not in resolved.parents:
            # The root is not named: small models copy absolute paths from messages into their next call.
            raise PathRefused(f"path {path!r} leads outside the workspace; use a path relative to the "
                              "workspace root such as '.' or 'src/app.py', without '..' or links that leave it")
        parts = [p.casefold() for p in resolved.relative_to(self.root).parts]
        if ".git" in parts:
            raise PathRefused(f"path {path!r} is inside .git, which tools never read or write; "
                              "use git commands through the shell tool (git log, git show, git diff)")
        if write and parts[:1] == [STATE_DIR]:
            raise PathRefused(f"path {path!r} is inside {STATE_DIR}, which holds Wren's session logs and "
                              "checkpoints; write somewhere else in the workspace")
        try:
            mode = os.stat(resolved).st_mode
        except OSError:
            return resolved  # missing (a file to write) or unreadable: the tool says which
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            # Opening a FIFO blocks until a writer comes, past every timeout and SIGTERM; a device never ends.
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise PathRefused(f"path {path!r} is {kind}, not a regular file; tools read and write regular files only")
        return resolved

    def _real(self, path: str) -> Path:
        if not path.strip():  # models send "" for "here"
            path = "."
        if "\x00" in path:
            raise PathRefused(f"path {path!r} contains a NUL byte")
        try:
            os.fsencode(path)
        except UnicodeError:
            raise PathRefused(f"path {path!r} is not valid text for a file name") from None
        raw = Path(os.path.expanduser(path)) if path.startswith("~") else Path(path)
        candidate = raw if raw.is_absolute() else self.root / raw
        if "\\x" in path and not os.path.lexists(candidate):
            # A name the model saw through `shown`: its non-UTF-8 bytes written as \xNN.
            candidate = Path(unshown(str(candidate)))
        # realpath follows every symlink, so a link that leaves the root is caught by the caller.
        resolved = Path(os.path.realpath(candidate))
        # A symlink loop stops realpath early and leaves the rest unresolved: never trust a '..' left in it.
        if ".." in resolved.parts:
            raise PathRefused(f"path {path!r} goes through a symlink loop or an unreadable directory")
        return resolved

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."
