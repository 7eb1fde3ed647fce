"""Checkpoints and undo.

Before each batch of mutating tool calls (the calls of one assistant message) the
workspace is snapshotted to `refs/wren/checkpoints/<session>/<n>`: checkpoint n is the
state before batch n. `undo(root, session, n)` puts the files back exactly as they were
at checkpoint n. It first saves the current state as a new checkpoint, so an undo can
itself be undone.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from wren.tools.fileio import atomic_write
from wren.tools.gitstore import CheckpointError, Entries, Store

REF_ROOT = "refs/wren/checkpoints"

__all__ = ["CheckpointError", "CheckpointInfo", "Checkpointer", "UndoReport", "list_checkpoints", "undo"]


class CheckpointInfo(BaseModel):
    session_id: str
    n: int
    label: str
    created: int  # unix time
    commit: str


class UndoReport(BaseModel):
    session_id: str
    checkpoint: int
    label: str
    modified: list[str]   # changed since the checkpoint, now back as they were
    recreated: list[str]  # deleted since the checkpoint, now back
    removed: list[str]    # created since the checkpoint, now gone
    saved_as: int         # the checkpoint that holds the state from before this undo

    def text(self) -> str:
        lines = [f"Restored checkpoint {self.checkpoint} of session {self.session_id} ({self.label})."]
        lines += [f"  restored  {p}" for p in self.modified]
        lines += [f"  recreated {p}" for p in self.recreated]
        lines += [f"  removed   {p}" for p in self.removed]
        if not (self.modified or self.recreated or self.removed):
            lines.append("  (the files were already as at that checkpoint)")
        lines.append(f"The state before this undo is checkpoint {self.saved_as}: "
                     f"`wren undo {self.saved_as} --session {self.session_id}` goes back to it.")
        return "\n".join(lines)


def _infos(store: Store, session_id: str | None) -> list[CheckpointInfo]:
    prefix = f"{REF_ROOT}/{session_id}" if session_id else REF_ROOT
    found = []
    for ref, commit, when, subject in store.refs(prefix):
        parts = ref.split("/")
        if len(parts) == 5 and parts[4].isdigit():
            label = subject.split(": ", 1)[-1]
            found.append(CheckpointInfo(session_id=parts[3], n=int(parts[4]), label=label, created=when,
                                        commit=commit))
    return found


def list_checkpoints(root: Path, session_id: str | None = None) -> list[CheckpointInfo]:
    """Checkpoints of one session (or of all), oldest first."""
    return sorted(_infos(Store(root), session_id), key=lambda c: (c.created, c.session_id, c.n))


def _save(store: Store, session_id: str, label: str, entries: Entries | None = None) -> int:
    taken = _infos(store, session_id)
    n = max((c.n for c in taken), default=0) + 1
    parent = next((c.commit for c in taken if c.n == n - 1), None)
    entries = store.scan() if entries is None else entries
    try:
        tree = store.write_tree(entries)
    except CheckpointError:
        store.drop_cache()  # a cached hash may name an object the store no longer has
        entries = store.scan()
        tree = store.write_tree(entries)
    commit = store.commit(tree, parent, f"wren checkpoint {n}: {label}\n\nsession {session_id}")
    store.set_ref(f"{REF_ROOT}/{session_id}/{n}", commit)
    return n


class Checkpointer:
    """One checkpoint per batch, taken just before the batch's first call that changes anything."""

    def __init__(self, root: Path, session_id: str) -> None:
        self.root, self.session_id = root, session_id
        self._label: str | None = "tool calls"
        self._store: Store | None = None

    def new_batch(self, label: str) -> None:
        self._label = label

    def before_mutation(self) -> int | None:
        """The new checkpoint's number, or None when this batch already has one."""
        if self._label is None:
            return None
        label, self._label = self._label, None
        self._store = self._store or Store(self.root)
        return _save(self._store, self.session_id, label)


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


def undo(root: Path, session_id: str | None = None, n: int | None = None) -> UndoReport:
    """Restore the files of checkpoint n (default: the latest) of a session (default: the latest one)."""
    store = Store(root)
    everything = _infos(store, session_id)
    if not everything:
        whose = f"session {session_id}" if session_id else "any session"
        raise CheckpointError(f"no checkpoints for {whose} in {store.root}")
    session_id = session_id or everything[0].session_id  # refs come newest first
    mine = {c.n: c for c in everything if c.session_id == session_id}
    n = max(mine) if n is None else n
    if n not in mine:
        raise CheckpointError(f"session {session_id} has no checkpoint {n}; it has {', '.join(map(str, sorted(mine)))}")
    current = store.scan()
    saved = _save(store, session_id, f"before undo to {n}", current)
    target = store.tree_entries(mine[n].commit)
    removed = sorted(set(current) - set(target))
    recreated = sorted(set(target) - set(current))
    modified = sorted(p for p in set(current) & set(target) if current[p] != target[p])
    for rel in sorted(removed, reverse=True):
        _remove(store, rel)
    for rel in modified + recreated:
        _write(store, rel, *target[rel])
    cut = len(store.prefix())  # report paths from the workspace root, as the tools name them
    return UndoReport(session_id=session_id, checkpoint=n, label=mine[n].label,
                      modified=[p[cut:] for p in modified], recreated=[p[cut:] for p in recreated],
                      removed=[p[cut:] for p in removed], saved_as=saved)
