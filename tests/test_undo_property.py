"""Property: after `undo(N)` every file checkpoint N holds is byte for byte as it was then, files
created since are gone unless checkpoint N's .gitignore hid them, and no file the steps did not
touch changed. Over generated workspaces (tracked, untracked, ignored, nested, a symlink, a name
that is not UTF-8) and generated batches of named writes and deletes, unnamed "shell" writes and
.gitignore edits."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from wren.tools.checkpoints import Checkpointer, list_checkpoints, undo

NAMES = ["a.txt", "src/b.py", "src/deep/c.md", "notes.log", "build/out.bin", os.fsdecode(b"caf\xe9.txt")]
IGNORE_CHOICES = ["*.log\n", "build/\n", "*.log\nbuild/\n", ""]
CONTENT = st.binary(min_size=0, max_size=40)

op = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), CONTENT),   # write_file/edit_file: names its path
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just(b"")),  # a named delete
    st.tuples(st.just("shell"), st.sampled_from(NAMES), CONTENT),   # a command: names nothing
    st.tuples(st.just("ignore"), st.sampled_from(IGNORE_CHOICES), st.just(b"")),  # the agent edits .gitignore
)


def files(root: Path) -> dict[str, bytes]:
    """Every file under root but .git and .wren: path -> bytes (a symlink: b'->' + its target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".wren")]
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            found[rel] = b"->" + os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return found


def listed(root: Path) -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout
    return {p for p in os.fsdecode(out).split("\0") if p and not p.startswith(".wren/")}


def apply(root: Path, kind: str, name: str, data: bytes) -> None:
    path = root / name
    if kind == "ignore":
        (root / ".gitignore").write_text(name)
    elif kind == "delete":
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.dictionaries(st.sampled_from(NAMES), CONTENT, min_size=1),
       tracked=st.sets(st.sampled_from(NAMES)),
       ignore=st.sampled_from(IGNORE_CHOICES),
       batches=st.lists(st.lists(op, min_size=1, max_size=4), min_size=1, max_size=4),
       pick=st.integers(min_value=0))
def test_undo_restores_checkpoint_n_exactly(initial, tracked, ignore, batches, pick):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git(root, "init", "-q")
        (root / ".gitignore").write_text(ignore)
        for name, data in initial.items():
            apply(root, "write", name, data)
        (root / "link.txt").symlink_to("a.txt")
        git(root, "add", "-f", ".gitignore", "link.txt", *[n for n in tracked if n in initial])
        git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "start")

        cp = Checkpointer(root, "s")
        expected: dict[int, dict[str, bytes]] = {}  # what each checkpoint must hold
        touched: set[str] = set()
        for batch in batches:
            cp.new_batch("batch")
            taken = None
            for kind, name, data in batch:
                named = [name] if kind in ("write", "delete") else []
                n = cp.before_mutation(named)
                now = files(root)
                if n is not None:
                    taken = n
                    expected[n] = {p: now[p] for p in listed(root) if p in now}
                for p in named:  # a named file joins the batch's checkpoint as it is before the call
                    if p in now:
                        expected[taken].setdefault(p, now[p])
                apply(root, kind, name, data)
                touched.add(".gitignore" if kind == "ignore" else name)
            if cp.end_batch():
                del expected[taken]
        kept = {c.n for c in list_checkpoints(root, "s")}
        assert set(expected) == kept
        if not kept:
            return
        n = sorted(kept)[pick % len(kept)]
        before_undo = files(root)
        undo(root, "s", n)
        after = files(root)
        for p, data in expected[n].items():
            assert after.get(p) == data, p
        for p, data in before_undo.items():
            if p not in touched and p not in expected[n]:
                assert after.get(p) == data, p  # a file no step touched is left alone
        assert after["link.txt"] == b"->a.txt"
