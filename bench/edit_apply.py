"""How often edit_file puts a real change in the right place.

Takes the most recent non-merge commits of a git repository that change one text file
in one hunk, turns each into an edit_file call against the parent revision (old = the
hunk's context and removed lines, new = its context and added lines; context is widened
until old is unique in the file, as a model told "add surrounding lines" would), and
applies it as sent and with whitespace perturbations a model makes. An edit succeeds
when the file afterwards is byte for byte the commit's version; it is a wrong-place
edit when it changed lines outside the hunk.

    python bench/edit_apply.py REPO [--commits 300] [--rev HEAD]

REPO is a work tree or a bare git directory. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.tools.workspace import Workspace

CONTEXTS = (3, 6, 10, 20, 50, 1_000_000)
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", re.M)
EDIT = default_registry().get("edit_file")


@dataclass
class Case:
    commit: str
    path: str
    before: bytes
    after: bytes
    old: str
    new: str
    span: tuple[int, int]  # lines of `before` (0-based, end exclusive) the hunk covers


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={repo}", *args], check=True, capture_output=True).stdout


def git_dir(path: Path) -> Path:
    out = subprocess.run(["git", "-C", str(path), "rev-parse", "--absolute-git-dir"], check=True,
                         capture_output=True, text=True)
    return Path(out.stdout.strip())


def hunk_sides(diff: str) -> tuple[str, str, int, int] | None:
    """(old, new, first line, line count) of a one-hunk diff, or None if it has more hunks."""
    heads = HUNK.findall(diff)
    if len(heads) != 1:
        return None
    rows: list[list] = []  # [kind, text, ends with a newline]
    for line in diff[HUNK.search(diff).end():].split("\n")[1:]:
        if line.startswith("\\") and rows:  # "\ No newline at end of file" is about the line before
            rows[-1][2] = False
        elif line and line[0] in " -+":
            rows.append([line[0], line[1:], True])
        else:
            break
    old = "".join(text + "\n" * nl for kind, text, nl in rows if kind in " -")
    new = "".join(text + "\n" * nl for kind, text, nl in rows if kind in " +")
    return old, new, int(heads[0][0]), int(heads[0][1] or 1)


def make_case(repo: Path, commit: str, path: str) -> Case | None:
    before, after = git(repo, "show", f"{commit}^:{path}"), git(repo, "show", f"{commit}:{path}")
    if b"\0" in before or b"\0" in after or b"\r" in before:
        return None
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for context in CONTEXTS:
        diff = git(repo, "diff", f"-U{context}", f"{commit}^", commit, "--", path).decode("utf-8", "replace")
        sides = hunk_sides(diff)
        if sides is None:
            return None
        old, new, start, count = sides
        if old and text.count(old) == 1:
            first = max(start - 1, 0)
            return Case(commit, path, before, after, old, new, (first, first + count))
    return None


def collect(repo: Path, rev: str, wanted: int) -> list[Case]:
    cases: list[Case] = []
    log = git(repo, "log", "--no-merges", "--format=%H", "--diff-filter=M", rev).decode().split()
    for commit in log:
        changed = git(repo, "diff-tree", "--no-commit-id", "-r", "--name-status", commit).decode().splitlines()
        if len(changed) != 1 or not changed[0].startswith("M\t"):
            continue
        case = make_case(repo, commit, changed[0].split("\t", 1)[1])
        if case:
            cases.append(case)
        if len(cases) == wanted:
            break
    return cases


def _lead(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _tabify(text: str) -> str:
    return "\n".join("\t" * (_lead(x) // 4) + x[_lead(x) // 4 * 4:] for x in text.split("\n"))


def _shift(text: str) -> str:
    return "\n".join("    " + x if x.strip() else x for x in text.split("\n"))


def _dedent_both(old: str, new: str) -> tuple[str, str]:
    """Both sides less the indentation they share, as a model quoting code flush left writes them."""
    common = min((_lead(x) for x in (old + "\n" + new).split("\n") if x.strip()), default=0)

    def cut(text: str) -> str:
        return "\n".join(x[common:] if x.strip() else "" for x in text.split("\n"))
    return cut(old), cut(new)


def _trailing(text: str) -> str:
    return "\n".join(x + "  " if i % 2 == 0 and x.strip() else x for i, x in enumerate(text.split("\n")))


def _both(change):
    return lambda old, new: (change(old), change(new))


def _old_only(change):
    return lambda old, new: (change(old), new)


# Indentation drift hits old and new alike (the model misreads the file); noise hits only old.
PERTURBATIONS = {
    "as committed": lambda old, new: (old, new),
    "trailing spaces on old": _old_only(_trailing),
    "old in CRLF": _old_only(lambda s: s.replace("\n", "\r\n")),
    "one level deeper": _both(_shift),
    "flush left (dedent)": _dedent_both,
    "tabs for spaces": _both(_tabify),
    "blank line around": _both(lambda s: "\n" + s + "\n"),
}


def changed_lines(before: str, after: str) -> list[tuple[int, int]]:
    """Line ranges of `before` that differ in `after` (an insertion is an empty range)."""
    ops = difflib.SequenceMatcher(None, before.splitlines(True), after.splitlines(True), autojunk=False).get_opcodes()
    return [(i1, i2) for tag, i1, i2, _, _ in ops if tag != "equal"]


def apply(case: Case, old: str, new: str, workdir: Path) -> tuple[str, bool, bool]:
    """(outcome, file right, wrong place) of one edit_file call on a fresh copy of the parent file."""
    target = workdir / "f"
    target.write_bytes(case.before)
    try:
        result = EDIT.run(EDIT.args(path="f", old=old, new=new), ToolContext(Workspace(workdir)))
    except ToolError as exc:
        return ("ambiguous" if "places" in str(exc) else "not found"), False, False
    stage = "whitespace" if "ignoring whitespace" in result.output else "exact"
    got = target.read_bytes()
    lo, hi = case.span
    outside = [r for r in changed_lines(case.before.decode(), got.decode("utf-8", "replace"))
               if r[1] < lo or r[0] > hi]
    return stage, got == case.after, bool(outside)


def run_variant(cases: list[Case], name: str, workdir: Path) -> Counter:
    tally: Counter = Counter()
    for case in cases:
        stage, right, wrong_place = apply(case, *PERTURBATIONS[name](case.old, case.new), workdir)
        tally[stage] += 1
        tally["success"] += right
        tally["wrong place"] += wrong_place
        tally["wrong text"] += stage in ("exact", "whitespace") and not right and not wrong_place
    return tally


def pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def table(rows: dict[str, Counter], total: int) -> str:
    out = ["| variant | edits | exact | whitespace-tolerant | not found | ambiguous | file right | "
           "wrong text | wrong place |", "|---|---|---|---|---|---|---|---|---|"]
    perturbed: Counter = Counter()
    for name, t in rows.items():
        if name != "as committed":
            perturbed += t
        out.append(_row(name, t, total))
    out.append(_row("all perturbed", perturbed, total * (len(rows) - 1)))
    return "\n".join(out)


def _row(name: str, t: Counter, total: int) -> str:
    return (f"| {name} | {total} | {pct(t['exact'], total)} | {pct(t['whitespace'], total)} | "
            f"{pct(t['not found'], total)} | {pct(t['ambiguous'], total)} | **{pct(t['success'], total)}** | "
            f"{t['wrong text']} | {t['wrong place']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--rev", default="HEAD")
    args = parser.parse_args()
    repo = git_dir(args.repo)
    cases = collect(repo, args.rev, args.commits)
    if not cases:
        sys.stderr.write("no single-hunk commits found\n")
        return 1
    head = git(repo, "rev-parse", "--short", args.rev).decode().strip()
    with tempfile.TemporaryDirectory(prefix="wren-edit-bench-") as tmp:
        rows = {name: run_variant(cases, name, Path(tmp)) for name in PERTURBATIONS}
    print(f"{len(cases)} most recent single-hunk commits of {args.repo.resolve().name} up to {head} "
          f"(last: {cases[-1].commit[:9]}):\n")
    print(table(rows, len(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
