"""QuixBugs tasks: a fresh git repo per task, the prompt, and the success check.

QuixBugs (https://github.com/jkoppel/QuixBugs, MIT; Lin et al., SPLASH 2017) has 40 Python
programs with a one-line bug each, checked by pytest tests. A task workspace holds
`python_programs/`, `python_testcases/`, `json_testcases/` and `conftest.py`, nothing else:
the correct programs are never copied in.

Success = the task's test file passes afterwards (within CHECK_TIMEOUT_S: two buggy programs
loop forever) and no file under python_testcases/ or json_testcases/ changed.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

URL = "https://github.com/jkoppel/QuixBugs"
COMMIT = "4257f44"  # the revision these numbers were measured on
COPIED = ("python_programs", "python_testcases", "json_testcases", "conftest.py")
PROTECTED = ("python_testcases", "json_testcases")
CHECK_TIMEOUT_S = 120

# Tune only on these (the development set); the other 20 programs are held out.
DEV = ("breadth_first_search", "bucketsort", "depth_first_search", "detect_cycle", "find_first_in_sorted",
       "flatten", "gcd", "get_factors", "hanoi", "is_valid_parenthesization", "kheapsort", "knapsack", "kth",
       "lcs_length", "levenshtein", "lis", "longest_common_subsequence", "max_sublist_sum", "mergesort",
       "minimum_spanning_tree")

PROMPT = ("The tests in python_testcases/test_{name}.py fail. Find and fix the bug in the program they test "
          "(it is in python_programs/). Do not change the tests.")


def prompt(name: str) -> str:
    """The task prompt, word for word the same for every system."""
    return PROMPT.format(name=name)


def sandbox_missing() -> str:
    """Why Wren's commands cannot be sandboxed on this machine ("" when they can), as a reason to refuse a run:
    a headless session denies the commands it cannot sandbox, so every task's run_tests would be refused
    and each row would measure that instead of the model (a fresh machine without bubblewrap did)."""
    from wren.tools.sandbox import probe

    found = probe()
    return "" if found.works else (f"{found.reason}; a headless run denies the commands it cannot sandbox, so "
                                   "every run_tests would be refused")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def source(path: Path | None, cache: Path) -> Path:
    """A git directory (clone or bare) of QuixBugs: `path` if given, else a clone cached under `cache`.

    Raises SystemExit with a message when neither is there and the clone fails (offline)."""
    if path:
        return path
    clone = cache / "QuixBugs"
    if not clone.exists():
        done = subprocess.run(["git", "clone", "--quiet", URL, str(clone)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"cannot clone {URL} ({done.stderr.strip()}); pass --quixbugs PATH to a copy")
    return clone


def make_workspace(quixbugs: Path, name: str, dest: Path) -> Path:
    """A fresh git repo at `dest` with the task's files committed; returns `dest`.

    `quixbugs` is any git directory of the QuixBugs repo (a clone or a bare mirror)."""
    if not (dest.parent).exists():
        dest.parent.mkdir(parents=True)
    dest.mkdir()
    archive = subprocess.run(["git", f"--git-dir={git_dir(quixbugs)}", "archive", COMMIT, *COPIED],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    if not (dest / "python_testcases" / f"test_{name}.py").exists():
        raise SystemExit(f"no QuixBugs task named {name!r}")
    (dest / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n*.pyc\n.wren/\n.aider*\n")
    git(dest, "init", "--quiet")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "--quiet", "-m", "task")
    return dest


def git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


@dataclass
class Check:
    passed: bool
    tests_changed: list[str]
    output: str

    @property
    def solved(self) -> bool:
        return self.passed and not self.tests_changed


def check(workspace: Path, name: str) -> Check:
    """Run the task's test file in `workspace` with a timeout; list changed protected files."""
    changed = [line for line in git(workspace, "status", "--porcelain", "--", *PROTECTED).splitlines()
               if "__pycache__" not in line]
    changed = [line[3:] for line in changed]
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                              f"python_testcases/test_{name}.py"], cwd=workspace, capture_output=True,
                             text=True, timeout=CHECK_TIMEOUT_S)
        passed, output = run.returncode == 0, run.stdout[-2000:]
    except subprocess.TimeoutExpired:
        passed, output = False, f"timed out after {CHECK_TIMEOUT_S} s"
    return Check(passed, changed, output)
