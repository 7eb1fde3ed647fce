"""Checkpoints and undo on real git repositories, never touching the user's HEAD, index, branch or stash."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conftest import CALC, git, scripted, wren, write_script
from wren.tools.checkpoints import CheckpointError, Checkpointer, list_checkpoints, undo

USER = ("-c", "user.email=u@example.com", "-c", "user.name=u")


def edit(old: str, new: str, path: str = "calc.py") -> dict:
    return {"tool_calls": [{"name": "edit_file", "arguments": {"path": path, "old": old, "new": new}}]}


def files(root: Path) -> dict[str, bytes]:
    """Every file below root except .git and .wren, with its bytes (and link targets)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in (".git", ".wren") or path.is_dir() and not path.is_symlink():
            continue
        out[rel] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return out


def user_state(repo: Path) -> dict[str, str | bytes]:
    status = [line for line in git(repo, "status", "--porcelain").splitlines() if ".wren" not in line]
    return {"head": git(repo, "rev-parse", "HEAD"), "branch": git(repo, "symbolic-ref", "HEAD"),
            "status": "\n".join(status), "index": git(repo, "ls-files", "-s"),
            "staged": git(repo, "diff", "--cached"), "stash": git(repo, "stash", "list"),
            "stash_patch": git(repo, "stash", "show", "-p", "stash@{0}"),
            "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags",
                        "refs/stash"),
            "index_file": (repo / ".git" / "index").read_bytes()}


@pytest.fixture
def busy_repo(calc_repo: Path) -> Path:
    """calc_repo with a stash, a staged change, an unstaged change and an untracked file."""
    (calc_repo / "calc.py").write_text("def add(a, b):\n    return a - b  # stashed\n")
    git(calc_repo, *USER, "stash", "push", "-q", "-m", "user work in progress")
    (calc_repo / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
                                            "\n\ndef test_zero():\n    assert add(0, 0) == 0\n")
    git(calc_repo, "add", "test_calc.py")
    (calc_repo / "calc.py").write_bytes(b"def add(a, b):\r\n    return a - b\r\n\r\n\r\ndef unused():\r\n    pass\r\n")
    (calc_repo / "notes.txt").write_text("my own untracked notes\n")
    return calc_repo


def test_undo_to_checkpoint_1_after_three_scripted_edits(busy_repo, tmp_path):
    before_files, before_state = files(busy_repo), user_state(busy_repo)
    model = write_script(tmp_path / "three.json", [
        edit("return a - b", "return a + b"),
        edit("def unused():\n    pass\n", "def mul(a, b):\n    return a * b\n"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "notes.txt", "content": "overwritten\n"}},
                        {"name": "write_file", "arguments": {"path": "pkg/new.py", "content": "x = 1\n"}}]},
        {"content": "Three edits done."},
    ])
    run = wren("run", "edit three times", "--model", model, "--approval", "auto-edit", "--output-format", "json",
               cwd=busy_repo)
    assert run.code == 0, run.stderr
    session = run.json["session_id"]
    assert b"a + b" in (busy_repo / "calc.py").read_bytes() and (busy_repo / "pkg/new.py").exists()
    assert [c.n for c in list_checkpoints(busy_repo, session)] == [1, 2, 3]

    undone = wren("undo", "1", "--session", session, cwd=busy_repo)
    assert undone.code == 0, undone.stderr
    assert "restored  calc.py" in undone.stdout and "removed   pkg/new.py" in undone.stdout
    assert "restored  notes.txt" in undone.stdout and "checkpoint 4" in undone.stdout
    assert files(busy_repo) == before_files
    assert user_state(busy_repo) == before_state


def test_an_undo_can_be_undone(busy_repo, tmp_path):
    model = write_script(tmp_path / "one.json", [edit("return a - b", "return a * b"), {"content": "ok"}])
    run = wren("run", "edit", "--model", model, "--approval", "auto", "--output-format", "json", cwd=busy_repo)
    after = files(busy_repo)
    first = undo(busy_repo)
    assert first.checkpoint == 1 and first.modified == ["calc.py"] and first.session_id == run.json["session_id"]
    assert undo(busy_repo, n=first.saved_as).modified == ["calc.py"]
    assert files(busy_repo) == after


def test_outside_git_a_shadow_repository_is_used(tmp_path):
    root = tmp_path / "plain"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("alpha\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "link").symlink_to("src/a.txt")
    before = files(root)
    cp = Checkpointer(root, "s1")
    assert cp.before_mutation() == 1 and cp.before_mutation() is None  # one per batch
    (root / "src" / "a.txt").write_text("changed\n")
    (root / "run.sh").chmod(0o644)
    (root / "link").unlink()
    (root / "link").symlink_to("elsewhere")
    (root / "src" / "b.txt").write_text("new\n")
    report = undo(root, "s1", 1)
    assert files(root) == before and stat.S_IMODE((root / "run.sh").stat().st_mode) == 0o755
    assert report.modified == ["link", "run.sh", "src/a.txt"] and report.removed == ["src/b.txt"]
    assert not (root / ".git").exists() and (root / ".wren" / "shadow.git" / "HEAD").exists()


def test_bytes_are_exact_despite_line_ending_conversion(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "core.autocrlf", "true")
    (repo / ".gitattributes").write_text("* text=auto\n")
    (repo / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    (repo / "unix.txt").write_bytes(b"one\ntwo\n")
    git(repo, "add", ".")
    git(repo, *USER, "commit", "-qm", "init")
    before = files(repo)
    Checkpointer(repo, "s").before_mutation()
    (repo / "dos.txt").write_bytes(b"x\n")
    (repo / "unix.txt").write_bytes(b"y\r\n")
    undo(repo, "s", 1)
    assert files(repo) == before


def test_undo_never_writes_through_a_link_that_replaced_a_folder(tmp_path):
    root, outside = tmp_path / "w", tmp_path / "outside"
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    (root / "src" / "a.py").write_text("a\n")
    Checkpointer(root, "s").before_mutation()
    (root / "src" / "a.py").unlink()
    (root / "src").rmdir()
    (root / "src").symlink_to(outside)
    undo(root, "s", 1)
    assert (root / "src").is_dir() and not (root / "src").is_symlink()
    assert (root / "src" / "a.py").read_text() == "a\n" and list(outside.iterdir()) == []


def shell_step(command: str) -> dict:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


def unsandboxed(repo: Path) -> Path:
    """Let `--approval auto` run shell on any machine: without bubblewrap a headless run would deny it."""
    (repo / "wren.toml").write_text('[sandbox]\nmode = "off"\n')
    return repo


def test_only_batches_that_change_things_get_checkpoints(calc_repo, tmp_path):
    read = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}
    two = {"tool_calls": [edit("a - b", "a + b")["tool_calls"][0], edit("a + b", "b + a")["tool_calls"][0]]}
    there_and_back = {"tool_calls": [edit("b + a", "b - a")["tool_calls"][0], edit("b - a", "b + a")["tool_calls"][0]]}
    model = write_script(tmp_path / "s.json", [
        read, two, read, shell_step("cat calc.py"), there_and_back, shell_step("touch made.txt"),
        {"content": "done", "expect": ["exit code 0"]}])
    run = wren("run", "go", "--model", model, "--approval", "auto", "--output-format", "json",
               cwd=unsandboxed(calc_repo))
    assert run.code == 0, run.stderr
    labels = [(c.n, c.label) for c in list_checkpoints(calc_repo, run.json["session_id"])]
    assert labels == [(1, "edit_file, edit_file"), (2, "shell")]
    assert undo(calc_repo, n=2).removed == ["made.txt"]


def test_wren_undo_after_an_edit_and_a_shell_that_only_read_restores_the_edit(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        edit("return a - b", "return a + b"), shell_step("echo hi"),
        {"content": "done", "expect": ["hi", "exit code 0"]}])
    run = wren("run", "fix add", "--model", model, "--approval", "auto", "--output-format", "json",
               cwd=unsandboxed(calc_repo))
    assert run.code == 0, run.stderr
    assert "a + b" in (calc_repo / "calc.py").read_text()
    listed = wren("undo", "--list", cwd=calc_repo)
    assert listed.code == 0 and "before: edit_file" in listed.stdout and "before: shell" not in listed.stdout

    undone = wren("undo", cwd=calc_repo)
    assert undone.code == 0, undone.stderr
    assert "Restored checkpoint 1" in undone.stdout and "restored  calc.py" in undone.stdout
    assert (calc_repo / "calc.py").read_text() == CALC
    # The state before the undo is the newest checkpoint that differs now, so undo again redoes the edit.
    again = wren("undo", cwd=calc_repo)
    assert again.code == 0 and "Restored checkpoint 2" in again.stdout, again.stderr
    assert "a + b" in (calc_repo / "calc.py").read_text()


def test_undo_skips_checkpoints_that_match_the_files_now(tmp_path):
    root = tmp_path / "w"
    root.mkdir()
    (root / "a.txt").write_text("one\n")
    cp = Checkpointer(root, "s")
    cp.new_batch("edit_file")
    cp.before_mutation()
    (root / "a.txt").write_text("two\n")
    assert cp.end_batch() is False  # the batch changed a file: its checkpoint stays
    cp.new_batch("shell")
    cp.before_mutation()  # no end_batch, as when a run dies mid-step: the no-op checkpoint stays
    assert [c.n for c in list_checkpoints(root, "s")] == [1, 2]
    report = undo(root)
    assert report.checkpoint == 1 and report.modified == ["a.txt"] and (root / "a.txt").read_text() == "one\n"


def test_an_undo_that_changes_nothing_saves_nothing(tmp_path):
    root = tmp_path / "w"
    root.mkdir()
    (root / "a.txt").write_text("one\n")
    cp = Checkpointer(root, "s")
    cp.before_mutation()
    report = undo(root, "s", 1)
    assert report.saved_as is None and not (report.modified or report.recreated or report.removed)
    assert "nothing was saved" in report.text()
    assert [c.n for c in list_checkpoints(root, "s")] == [1]
    with pytest.raises(CheckpointError, match="nothing to undo"):
        undo(root)
    assert cp.end_batch() is True and list_checkpoints(root, "s") == []


def test_undo_outside_git_with_no_checkpoints_writes_nothing(tmp_path):
    """`wren undo --list` (and `wren undo`) in a folder no session changed made .wren/shadow.git to read it."""
    folder = tmp_path / "plain"
    folder.mkdir()
    listed = wren("undo", "--list", cwd=folder)
    assert listed.code == 0 and "no checkpoints yet" in listed.stdout
    undone = wren("undo", cwd=folder)
    assert undone.code == 2 and "no checkpoints in" in undone.stderr
    assert list(folder.iterdir()) == []


def test_wren_undo_errors_are_clear(calc_repo):
    none = wren("undo", cwd=calc_repo)
    assert none.code == 2 and "no checkpoints" in none.stderr
    run = wren("run", "Fix the failing test", "--model", scripted("fix_calc.json"), "--approval", "auto",
               "--output-format", "json", cwd=unsandboxed(calc_repo))
    assert run.code == 0, run.stderr
    # run_tests ran (the script expects "1 passed") but changed no file, so it left no checkpoint.
    missing = wren("undo", "7", "--session", run.json["session_id"], cwd=calc_repo)
    assert missing.code == 2 and "has no checkpoint 7; it has 1;" in missing.stderr
    listed = wren("undo", "--list", cwd=calc_repo)
    assert listed.code == 0 and "before: edit_file" in listed.stdout and "before: run_tests" not in listed.stdout
    with pytest.raises(CheckpointError, match="no checkpoints for session nope"):
        undo(calc_repo, "nope")


def test_undo_never_removes_a_file_the_checkpoints_ignore_rules_hid(calc_repo, tmp_path):
    # The user's untracked data/big.csv is ignored; the agent edits .gitignore so that it no longer is.
    (calc_repo / ".gitignore").write_text("data/\n")
    git(calc_repo, "add", ".gitignore")
    git(calc_repo, *USER, "commit", "-qm", "ignore data")
    (calc_repo / "data").mkdir()
    (calc_repo / "data" / "big.csv").write_text("a,b\n1,2\n")
    model = write_script(tmp_path / "s.json", [
        edit("data/", "build/", path=".gitignore"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "made.txt", "content": "new\n"}}]},
        {"content": "done"}])
    run = wren("run", "tidy", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    undone = wren("undo", "1", cwd=calc_repo)
    assert undone.code == 0, undone.stderr
    assert (calc_repo / ".gitignore").read_text() == "data/\n"
    assert (calc_repo / "data" / "big.csv").read_text() == "a,b\n1,2\n"  # the user's file stays
    assert "kept      data/big.csv (ignored when the checkpoint was taken" in undone.stdout
    assert "removed   made.txt" in undone.stdout and not (calc_repo / "made.txt").exists()


def test_an_ignored_file_a_call_overwrites_is_checkpointed_and_undone(calc_repo, tmp_path):
    (calc_repo / ".gitignore").write_text("TODOS.txt\n")
    (calc_repo / "TODOS.txt").write_text("my notes\n")
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "list_files", "arguments": {"pattern": "TODOS.txt"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "TODOS.txt", "content": "agent text\n"}},
                        {"name": "write_file", "arguments": {"path": "calc.py", "content": "x = 1\n"}}],
         "expect": ["ignored by .gitignore", "TODOS.txt"]},
        {"content": "Done.", "expect": ["TODOS.txt existed and had not been read in this session"]},
    ])
    run = wren("run", "write todos", "--model", model, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert (calc_repo / "TODOS.txt").read_text() == "agent text\n"
    undone = wren("undo", cwd=calc_repo)
    assert undone.code == 0, undone.stderr
    assert (calc_repo / "TODOS.txt").read_text() == "my notes\n"  # the user's notes are back
    assert (calc_repo / "calc.py").read_text() == CALC
    assert "TODOS.txt" in undone.stdout


def test_a_checkpoint_gains_an_ignored_file_a_later_call_of_its_batch_names(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("local.cfg\n")
    (repo / "a.txt").write_text("a\n")
    (repo / "local.cfg").write_text("mine\n")
    cp = Checkpointer(repo, "s")
    cp.new_batch("two writes")
    assert cp.before_mutation(["a.txt"]) == 1
    (repo / "a.txt").write_text("b\n")
    assert cp.before_mutation(["local.cfg"]) is None  # the same batch: added to checkpoint 1
    (repo / "local.cfg").write_text("overwritten\n")
    assert not cp.end_batch()
    undo(repo, "s", 1)
    assert (repo / "local.cfg").read_text() == "mine\n" and (repo / "a.txt").read_text() == "a\n"


def test_a_file_name_with_a_newline_is_checkpointed(calc_repo, tmp_path):
    """One tracked file named with a newline turned checkpoints off for the whole workspace (git hash-object
    --stdin-paths reads lines), so `wren undo` had nothing to restore."""
    odd = calc_repo / "new\nline.py"
    odd.write_text("x = 1\n")
    git(calc_repo, *USER, "add", "-A")
    git(calc_repo, *USER, "commit", "-qm", "odd name")
    model = write_script(tmp_path / "s.json", [
        edit("a - b", "a + b"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "new\nline.py", "content": "x = 2\n"}}]},
        {"content": "done"}])
    run = wren("run", "fix", "--model", model, "--approval", "auto-edit", cwd=calc_repo)
    assert run.code == 0 and "no checkpoint" not in run.stderr, run.stderr
    undone = wren("undo", "1", cwd=calc_repo)
    assert undone.code == 0, undone.stderr
    assert odd.read_text() == "x = 1\n" and (calc_repo / "calc.py").read_text() == CALC
