"""Checkpoints and undo.

Before each batch of mutating tool calls (the calls of one assistant message) the
workspace is snapshotted to `refs/wren/checkpoints/<session>/<n>`: checkpoint n is the
state before the n-th batch that changed files. A batch that left the files as they were
(a `shell` that only read) drops its checkpoint, so the newest checkpoint is the state
before the last change. `undo(root, session, n)` puts the files back exactly as they were
at checkpoint n, by default the newest one that differs from the files now. It first
saves the current state as a new checkpoint, so an undo can itself be undone; an undo
that changes nothing saves nothing.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import pathspec
from pydantic import BaseModel, field_validator

from wren.core.fileio import atomic_write
from wren.tools.gitstore import CheckpointError, Entries, Store
from wren.core.paths import shown

REF_ROOT = "refs/wren/checkpoints"

__all__ = ["CheckpointError", "CheckpointInfo", "Checkpointer", "UndoReport", "list_checkpoints", "undo"]


class CheckpointInfo(BaseModel):
    session_id: str
    n: int
    label: str
    created: int  # unix time
    commit: str
    tree: str  # equal trees mean equal files, so undo can tell a checkpoint that changes nothing


class UndoReport(BaseModel):
    session_id: str
    checkpoint: int
    label: str
    modified: list[str]   # changed since the checkpoint, now back as they were
    recreated: list[str]  # deleted since the checkpoint, now back
    removed: list[str]    # created since the checkpoint, now gone
    # Not in the checkpoint but ignored by its .gitignore files: it may well predate it, so it stays.
    kept: list[str] = []
    saved_as: int | None  # the checkpoint that holds the state from before this undo; None when nothing changed

    @field_validator("modified", "recreated", "removed", "kept")
    @classmethod
    def _shown(cls, paths: list[str]) -> list[str]:
        return [shown(p) for p in paths]  # for people and JSON: non-UTF-8 bytes as \xNN

    def text(self) -> str:
        """What the undo did, for a person: the files it touched and how to undo the undo."""
        lines = [f"Restored checkpoint {self.checkpoint} of session {self.session_id} (before: {self.label})."]
        lines += [f"  restored  {p}" for p in self.modified]
        lines += [f"  recreated {p}" for p in self.recreated]
        lines += [f"  removed   {p}" for p in self.removed]
        lines += [f"  kept      {p} (ignored when the checkpoint was taken, so it may be older)" for p in self.kept]
        if self.saved_as is None:
            lines.append("  (the files were already as at that checkpoint; nothing changed, so nothing was saved)")
        else:
            lines.append(f"The state before this undo is checkpoint {self.saved_as}: "
                         f"`wren undo {self.saved_as} --session {self.session_id}` goes back to it.")
        return "\n".join(lines)


def _infos(store: Store, session_id: str | None) -> list[CheckpointInfo]:
    prefix = f"{REF_ROOT}/{session_id}" if session_id else REF_ROOT
    found = []
    for ref, commit, tree, when, subject in store.refs(prefix):
        parts = ref.split("/")
        if len(parts) == 5 and parts[4].isdigit():
            label = subject.split(": ", 1)[-1]
            found.append(CheckpointInfo(session_id=parts[3], n=int(parts[4]), label=label, created=when,
                                        commit=commit, tree=tree))
    return found


def list_checkpoints(root: Path, session_id: str | None = None) -> list[CheckpointInfo]:
    """Checkpoints of one session (or of all), oldest first."""
    if not Store.exists(root):
        return []
    return sorted(_infos(Store(root), session_id), key=lambda c: (c.created, c.session_id, c.n))


def _snapshot(store: Store, also: Sequence[str] = ()) -> tuple[Entries, str]:
    """The files now (the listed ones, and those of `also` that exist, ignored or not) and their tree."""
    for attempt in range(2):
        entries = store.scan()
        entries.update(store.entries_for([k for k in also if k not in entries]))
        try:
            return entries, store.write_tree(entries)
        except CheckpointError:
            if attempt:
                raise
            store.drop_cache()  # a cached hash may name an object the store no longer has
    raise AssertionError("unreachable")


def _save(store: Store, session_id: str, label: str, tree: str | None = None,
          also: Sequence[str] = ()) -> CheckpointInfo:
    taken = _infos(store, session_id)
    n = max((c.n for c in taken), default=0) + 1
    parent = next((c.commit for c in taken if c.n == n - 1), None)
    tree = _snapshot(store, also)[1] if tree is None else tree
    commit = store.commit(tree, parent, f"wren checkpoint {n}: {label}\n\nsession {session_id}")
    store.set_ref(f"{REF_ROOT}/{session_id}/{n}", commit)
    return CheckpointInfo(session_id=session_id, n=n, label=label, created=int(time.time()), commit=commit,
                          tree=tree)


class Checkpointer:
    """One checkpoint per batch that changes files, taken just before the batch's first mutating call.

    Besides the files git would list, it holds each file a call names before that call changes it,
    even one .gitignore hides (a user's notes, a local config): undo must be able to put it back.
    """

    def __init__(self, root: Path, session_id: str) -> None:
        self.root, self.session_id = root, session_id
        self._label: str | None = "tool calls"
        self._taken: CheckpointInfo | None = None
        self._store: Store | None = None
        self._also: list[str] = []  # store keys of the named files this batch's checkpoint holds

    def new_batch(self, label: str) -> None:
        """Start a batch (the calls of one assistant message); its first mutating call checkpoints."""
        self._label, self._taken, self._also = label, None, []

    def before_mutation(self, paths: Sequence[str] = ()) -> int | None:
        """Before a mutating call that names workspace-relative `paths`: the new checkpoint's number,
        or None when this batch already has one (then the named files it lacks are added to it)."""
        self._store = store = self._store or Store(self.root)
        keys = [store.prefix() + p for p in paths if p not in (".", "")]
        if self._label is None:
            self._include(store, keys)
            return None
        label, self._label = self._label, None
        self._also = keys
        self._taken = _save(store, self.session_id, label, also=keys)
        return self._taken.n

    def save(self, label: str, paths: Sequence[str] = ()) -> int:
        """A checkpoint of the files as they are now, with the workspace-relative `paths` even where git ignores
        them, outside any batch (a state Wren may return to with `undo`); its number. Raises CheckpointError or
        OSError when the workspace cannot be snapshotted."""
        self._store = store = self._store or Store(self.root)
        return _save(store, self.session_id, label, also=[store.prefix() + p for p in paths if p not in (".", "")]).n

    def _include(self, store: Store, keys: list[str]) -> None:
        """Add to this batch's checkpoint the named files it lacks, as they are now (before the call)."""
        taken = self._taken
        if taken is None:
            return
        entries = store.tree_entries(taken.commit)
        fresh = store.entries_for([k for k in keys if k not in entries])
        if not fresh:
            return
        self._also += list(fresh)
        tree = store.write_tree({**entries, **fresh})
        parents = store.git("rev-list", "--parents", "-n", "1", taken.commit).decode().split()[1:]
        commit = store.commit(tree, parents[0] if parents else None,
                              f"wren checkpoint {taken.n}: {taken.label}\n\nsession {taken.session_id}")
        store.set_ref(f"{REF_ROOT}/{taken.session_id}/{taken.n}", commit)
        self._taken = taken.model_copy(update={"commit": commit, "tree": tree})

    def end_batch(self) -> bool:
        """Drop this batch's checkpoint when the files are as they were before it; True when dropped.

        A step that changed nothing (a `shell` that only read) must not become the checkpoint
        that `wren undo` restores, or undo would put back the files as they already are.
        """
        taken, self._taken = self._taken, None
        if taken is None or self._store is None or _snapshot(self._store, self._also)[1] != taken.tree:
            return False
        self._store.delete_ref(f"{REF_ROOT}/{taken.session_id}/{taken.n}")
        return True


    def changed_since(self, n: int) -> list[str]:
        """Workspace-relative paths whose content, mode or existence differs now from checkpoint `n`
        of this session, sorted. Whatever changed them: an edit tool, a shell command, an MCP tool.

        Raises CheckpointError when the checkpoint is gone or the workspace cannot be scanned.
        """
        store = self._store = self._store or Store(self.root)
        mine = _session_checkpoints(store, self.session_id)
        if n not in mine:
            raise CheckpointError(f"session {self.session_id} has no checkpoint {n}")
        prefix = store.prefix()
        then = {p: e for p, e in store.tree_entries(mine[n].commit).items() if p.startswith(prefix)}
        now = store.scan()
        return sorted(p.removeprefix(prefix) for p in then.keys() | now.keys() if then.get(p) != now.get(p))


def _clear_way(root: Path, path: Path) -> None:
    """Make every parent of `path` a real directory: a link or file in the way is replaced, never followed."""
    here = root
    for part in path.relative_to(root).parts[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            here.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)


def _write(store: Store, rel: str, mode: str, sha: str) -> None:
    path = store.top / rel
    _clear_way(store.root, path)
    data = store.blob(sha)
    if path.is_symlink() or (mode == "120000" and path.exists()):
        path.unlink()
    if mode == "120000":
        os.symlink(os.fsdecode(data), path)
        return
    atomic_write(path, data)
    bits = os.stat(path).st_mode & 0o7777
    wanted = bits | ((bits & 0o444) >> 2) if mode == "100755" else bits & ~0o111
    if wanted != bits:
        os.chmod(path, wanted)


def _remove(store: Store, rel: str) -> None:
    path = store.top / rel
    if path.is_symlink() or path.is_file():
        path.unlink()
    folder = path.parent
    while folder != store.root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _session_checkpoints(store: Store, session_id: str | None) -> dict[int, CheckpointInfo]:
    """The checkpoints of a session (default: the one that checkpointed last), by number."""
    everything = _infos(store, session_id)
    if not everything:
        whose = f"session {session_id}" if session_id else "any session"
        raise CheckpointError(f"no checkpoints for {whose} in {store.root}")
    session_id = session_id or everything[0].session_id  # refs come newest first
    return {c.n: c for c in everything if c.session_id == session_id}


def _pick(mine: dict[int, CheckpointInfo], n: int | None, now: str) -> CheckpointInfo:
    """Checkpoint n, or without n the newest one whose files differ from now: the last change."""
    session_id = next(iter(mine.values())).session_id
    if n is None:
        differing = [c for c in mine.values() if c.tree != now]
        if not differing:
            raise CheckpointError(f"nothing to undo: the files are as at every checkpoint of session {session_id}")
        return max(differing, key=lambda c: c.n)
    if n not in mine:
        raise CheckpointError(f"session {session_id} has no checkpoint {n}; it has {', '.join(map(str, sorted(mine)))}")
    return mine[n]


def ignored_by(store: Store, entries: Entries, path: str) -> bool:
    """Whether the .gitignore files among `entries` (a checkpoint's files) ignore `path`.

    A file the checkpoint lacks was either created after it or was ignored then; only the first may
    be removed by undo, whatever the ignore rules say now (the agent may have edited .gitignore)."""
    for name, (_, sha) in entries.items():
        folder, _, base = name.rpartition("/")
        if base != ".gitignore" or not path.startswith(f"{folder}/" if folder else ""):
            continue
        spec = pathspec.GitIgnoreSpec.from_lines(store.blob(sha).decode("utf-8", errors="replace").splitlines())
        if spec.match_file(path[len(folder) + 1:] if folder else path):
            return True
    return False


def undo(root: Path, session_id: str | None = None, n: int | None = None) -> UndoReport:
    """Restore the files of checkpoint n of a session (default: the latest session).

    Without n, the newest checkpoint whose files differ from now. The current state is
    saved as a new checkpoint first, unless the undo changes nothing.
    """
    if not Store.exists(root):
        raise CheckpointError(f"no checkpoints in {root.resolve()}: they are taken before each step that changes files")
    store = Store(root)
    mine = _session_checkpoints(store, session_id)
    chosen = _pick(mine, n, _snapshot(store)[1])
    target = store.tree_entries(chosen.commit)
    # The checkpoint's files that git does not list now (ignored ones a call named) count as they are.
    current, now = _snapshot(store, list(target))
    changed = chosen.tree != now
    saved = _save(store, chosen.session_id, f"undo to {chosen.n}", now).n if changed else None
    unseen = set(current) - set(target)
    kept = sorted(p for p in unseen if ignored_by(store, target, p))
    removed = sorted(unseen - set(kept))
    recreated = sorted(set(target) - set(current))
    modified = sorted(p for p in set(current) & set(target) if current[p] != target[p])
    for rel in sorted(removed, reverse=True):
        _remove(store, rel)
    for rel in modified + recreated:
        _write(store, rel, *target[rel])
    cut = len(store.prefix())  # report paths from the workspace root, as the tools name them
    return UndoReport(session_id=chosen.session_id, checkpoint=chosen.n, label=chosen.label,
                      modified=[p[cut:] for p in modified], recreated=[p[cut:] for p in recreated],
                      removed=[p[cut:] for p in removed], kept=[p[cut:] for p in kept], saved_as=saved)
