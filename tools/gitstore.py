"""Snapshots of a workspace as git trees, without touching the user's HEAD, branch, index or stash.

Files are hashed as raw bytes (`hash-object --no-filters`: no line-ending or LFS filters),
the tree is built in a temporary index (GIT_INDEX_FILE), and commits live on refs of
our own. Inside a git repository its object store is used; elsewhere a private bare
repository under .wren/ with the workspace as its work tree.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import git

from wren.core.errors import ToolError
from wren.core.paths import git_listing
from wren.core.paths import STATE_DIR, state_dir

IDENTITY = {"GIT_AUTHOR_NAME": "Wren", "GIT_AUTHOR_EMAIL": "wren@localhost",
            "GIT_COMMITTER_NAME": "Wren", "GIT_COMMITTER_EMAIL": "wren@localhost"}
RACY_NS = 2_000_000_000  # a file changed this close to its hashing is hashed again next time
Entries = dict[str, tuple[str, str]]  # path from the repository top -> (mode, blob sha)


class CheckpointError(Exception):
    """Git could not snapshot or restore; the message says what failed."""


@dataclass
class Stat:
    key: list[int]
    mode: str


def _stat(path: Path) -> Stat | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        mode = "120000"
    elif stat.S_ISREG(st.st_mode):
        mode = "100755" if st.st_mode & 0o100 else "100644"
    else:
        return None
    return Stat([st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino], mode)


def _work_tree(root: Path) -> tuple[git.Repo | None, Path | None]:
    """The git repository whose work tree holds `root`, and that work tree; (None, None) outside one."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None, None
    return repo, Path(repo.working_tree_dir).resolve() if repo.working_tree_dir else None


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        repo, top = _work_tree(self.root)
        if repo is None or top is None:
            repo, top = self._shadow(), self.root
        self.repo, self.top = repo, top
        self.env = {"GIT_DIR": str(Path(repo.git_dir).resolve()), "GIT_WORK_TREE": str(top), **IDENTITY}
        self.cache_path = self.root / STATE_DIR / "checkpoints" / "stat-cache.json"

    @staticmethod
    def exists(root: Path) -> bool:
        """Whether checkpoints of `root` can exist: it is in a git work tree, or its shadow repository was made.
        (Store(root) makes the shadow repository; reading commands such as `wren undo --list` must not.)"""
        return _work_tree(root)[1] is not None or (root / STATE_DIR / "shadow.git" / "HEAD").exists()

    def _shadow(self) -> git.Repo:
        path = state_dir(self.root) / "shadow.git"
        if not (path / "HEAD").exists():
            return git.Repo.init(path, bare=True, mkdir=True)
        return git.Repo(path)

    def git(self, *args: str, stdin: bytes | None = None, index: str | None = None) -> bytes:
        env = {**self.env, **({"GIT_INDEX_FILE": index} if index else {})}
        with tempfile.TemporaryFile() as fh:
            if stdin is not None:
                fh.write(stdin)
                fh.seek(0)
            try:
                return self.repo.git.execute(["git", "-c", "core.quotepath=off", *args], istream=fh, env=env,
                                             stdout_as_string=False, strip_newline_in_stdout=False)
            except git.GitCommandError as exc:
                raise CheckpointError(f"git {args[0]} failed: {exc.stderr.strip() or exc}") from None

    # ---- reading the work tree -----------------------------------------------------------
    def prefix(self) -> str:
        rel = self.root.relative_to(self.top).as_posix()
        return "" if rel == "." else rel + "/"

    def scan(self) -> Entries:
        """Tracked and untracked-not-ignored files under the root, hashed into the object store."""
        cache = self._load_cache()
        started = time.time_ns()
        entries: Entries = {}
        todo: list[tuple[str, Path, Stat]] = []
        try:
            listed = git_listing(self.root)
        except ToolError as exc:
            raise CheckpointError(str(exc)) from None
        for rel in listed:
            path = self.root / rel
            st = _stat(path)
            if st is None:
                continue
            key = self.prefix() + rel
            hit = cache.get(key)
            if hit and hit[:-1] == [*st.key, st.mode] and st.key[1] < started - RACY_NS:
                entries[key] = (st.mode, hit[-1])
            else:
                todo.append((key, path, st))
        for (key, _, st), sha in zip(todo, self._hash([(p, s.mode) for _, p, s in todo])):
            entries[key] = (st.mode, sha)
            cache[key] = [*st.key, st.mode, sha]
        self._save_cache({k: v for k, v in cache.items() if k in entries})
        return entries

    def entries_for(self, keys: list[str]) -> Entries:
        """Entries (keys as `scan` gives them) for the named files that exist, ignored or not."""
        found = []
        for key in keys:
            path = self.root / key[len(self.prefix()):]
            if key.startswith(self.prefix()) and (st := _stat(path)) is not None:
                found.append((key, path, st.mode))
        return {key: (mode, sha) for (key, _, mode), sha in zip(found, self._hash([(p, m) for _, p, m in found]))}

    def _hash(self, files: list[tuple[Path, str]]) -> list[str]:
        if not files:
            return []
        with tempfile.TemporaryDirectory(prefix="wren-links-") as links:
            paths = []
            for i, (path, mode) in enumerate(files):
                hashed = Path(links) / str(i)  # a stand-in, or the file itself
                if mode == "120000":  # a link is stored as the text of its target
                    hashed.write_bytes(os.fsencode(os.readlink(path)))
                elif "\n" in str(path):  # --stdin-paths reads lines: a link without one, which hash-object follows
                    hashed.symlink_to(path)
                else:
                    hashed = path
                paths.append(str(hashed))
            out = self.git("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=os.fsencode("\n".join(paths)))
        return out.decode().split()

    def _load_cache(self) -> dict[str, list]:
        try:
            data = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}
        return data.get("entries", {}) if data.get("git_dir") == self.env["GIT_DIR"] else {}

    def _save_cache(self, entries: dict[str, list]) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"git_dir": self.env["GIT_DIR"], "entries": entries}))
        os.replace(tmp, self.cache_path)

    def drop_cache(self) -> None:
        self.cache_path.unlink(missing_ok=True)

    # ---- trees, commits, refs ------------------------------------------------------------
    def write_tree(self, entries: Entries) -> str:
        info = "".join(f"{mode} {sha}\t{path}\0" for path, (mode, sha) in sorted(entries.items()))
        with tempfile.TemporaryDirectory(prefix="wren-index-") as tmp:
            index = str(Path(tmp) / "index")
            self.git("update-index", "-z", "--index-info", stdin=os.fsencode(info), index=index)
            return self.git("write-tree", index=index).decode().strip()

    def commit(self, tree: str, parent: str | None, message: str) -> str:
        args = ["commit-tree", tree, *(["-p", parent] if parent else []), "-m", message]
        return self.git(*args).decode().strip()

    def tree_entries(self, commit: str) -> Entries:
        out = self.git("ls-tree", "-r", "-z", "--full-tree", commit)
        entries: Entries = {}
        for record in out.decode("utf-8", errors="surrogateescape").split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                mode, _, sha = meta.split()
                entries[path] = (mode, sha)
        return entries

    def blob(self, sha: str) -> bytes:
        return self.repo.odb.stream(bytes.fromhex(sha)).read()

    def refs(self, prefix: str) -> list[tuple[str, str, str, int, str]]:
        """(ref, commit, tree, unix time, subject) for refs under prefix, newest first."""
        fmt = "%(refname)%00%(objectname)%00%(tree)%00%(committerdate:unix)%00%(subject)"
        out = self.git("for-each-ref", "--sort=-committerdate", f"--format={fmt}", prefix).decode()
        rows = [line.split("\0") for line in out.splitlines() if line]
        return [(r[0], r[1], r[2], int(r[3] or 0), r[4]) for r in rows]

    def set_ref(self, ref: str, commit: str) -> None:
        self.git("update-ref", ref, commit)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)
