"""File names that are not UTF-8 (bytes on POSIX): listed, searched, read, edited, changed by a
command and undone, with the result still valid JSON. The model sees each such byte as \\xNN."""
from __future__ import annotations

import os

from conftest import git, wren, write_script

CAFE = b"caf\xe9.txt"  # Latin-1 é: not UTF-8
NEW = b"n\xe9w.txt"


def test_a_repository_with_a_non_utf8_name_works_end_to_end(calc_repo, tmp_path):
    root = os.fsencode(calc_repo)
    with open(os.path.join(root, CAFE), "wb") as fh:
        fh.write(b"coffee = 1\n")
    git(calc_repo, "add", "-A")
    git(calc_repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "cafe")
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"tool_calls": [{"name": "grep", "arguments": {"pattern": "coffee"}}], "expect": ["caf\\xe9.txt"]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "caf\\xe9.txt"}}],
         "expect": ["caf\\xe9.txt:1:coffee = 1"]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "caf\\xe9.txt", "old": "coffee = 1",
                                                             "new": "coffee = 2"}},
                        {"name": "shell", "arguments": {"command": "printf 't\\351a' > \"$(printf 'n\\351w.txt')\""}}],
         "expect": ["coffee = 1"]},
        {"content": "Done."},
    ])
    run = wren("run", "make coffee", "--model", model, "--approval", "auto", "--output-format", "json",
               "--include-diff", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["status"] == "success"
    assert sorted(run.json["files_changed"]) == ["caf\\xe9.txt", "n\\xe9w.txt"]
    with open(os.path.join(root, CAFE), "rb") as fh:
        assert fh.read() == b"coffee = 2\n"
    with open(os.path.join(root, NEW), "rb") as fh:
        assert fh.read() == b"t\xe9a"  # not UTF-8 inside either: the diff must still come
    assert "+coffee = 2" in run.json["diff"]

    undone = wren("undo", cwd=calc_repo)
    assert undone.code == 0, undone.stderr
    with open(os.path.join(root, CAFE), "rb") as fh:
        assert fh.read() == b"coffee = 1\n"
    assert not os.path.exists(os.path.join(root, NEW))


def test_the_code_index_takes_non_utf8_names(calc_repo, tmp_path):
    with open(os.path.join(os.fsencode(calc_repo), b"h\xe9lper.py"), "wb") as fh:
        fh.write(b"def helper_fn():\n    return 1\n")
    index = wren("index", "--lexical-only", cwd=calc_repo)
    assert index.code == 0, index.stderr
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "search_code", "arguments": {"query": "helper_fn"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "h\\xe9lper.py"}}],
         "expect": ["h\\xe9lper.py:1-2 helper_fn"]},
        {"content": "Found it.", "expect": ["return 1"]}])
    run = wren("run", "find helper_fn", "--model", model, "--output-format", "json", cwd=calc_repo)
    assert run.code == 0 and run.json["status"] == "success", run.stderr
