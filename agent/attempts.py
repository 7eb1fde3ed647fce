"""Careful sessions: a fresh attempt when the model is stuck over failing tests.

A small model that goes wrong does not recover: its failed edits, errors and wrong theory
fill the prompt, and every later step builds on them (on QuixBugs, Qwen2.5-Coder-1.5B kept
"fixing" bucketsort with edits whose old and new text were the same until the step limit).
A fresh start from the same files samples a new line of thought. So when the model gives up
or is stopped as stuck (repeating itself, or failing step after step) while the tests it ran
still fail, and steps are left, Wren puts the files back as they were at the start of the turn,
drops the attempt from the working context (the session log keeps all of it) and tells the model
in one line what the failed attempt changed. The failing run and the code Wren showed before the
first attempt stay in the context (the files are as they were then), so a local model reuses
their KV cache instead of reading them again. The step limit counts the steps of every attempt.

A fresh attempt starts from the files of the run where the most tests passed in the turn, when that is more
than passed when Wren oriented it (Attempt.best): Qwen2.5-Coder-1.5B's rewrite of QuixBugs hanoi made 7 of 8
tests pass, its next fix did not help, and the attempt after it started from the turn's files (1 of 8); in
minimum_spanning_tree a `list(...)` that made 1 of 3 pass went the same way. Then Wren orients anew (the tests'
run and the code, as they are now), since the failing run and the code in the context are the old files'.
After that the attempts take turns between the kept files and the turn's start (Attempt.next_files): a kept
change can lead away from the fix. In hanoi at 4742262, a guess that made 2 of 8 pass and then the 7 of 8 rewrite
(`6 - start - end`, wrong where start equals end) were kept in turn, and 11 of 12 attempts started from them,
while the original program was one change (`(start, end)`) from passing.

An attempt also ends when FAILED_FIXES of its changes in a row were tested and the tests still
failed: Qwen2.5-Coder-1.5B, its first theory wrong, stacked guard on guard in kth
(`... if len(above) > 0 else None if len(above) > 0 else None`) until the step limit, where
independent tries from the clean files sample new theories. One failed fix is enough: the second
fix of an attempt was a variant or an undo of the first (bucketsort, find_first_in_sorted), and it
cost three times the time of a fresh attempt's first (the failing run after the first fix is read
anew, where a fresh attempt reuses the KV cache of its prefix).

A line whose change failed in LINE_TRIES attempts is not offered to the next LINE_REST attempts' narrowed
edits (agent/narrowing.py): the model's samples return to one line. Qwen2.5-Coder-1.5B changed the line
where find_first_in_sorted raised IndexError in all 14 of its fixes; the bug is the loop's condition.
Then it is offered again, once (one more failed fix and it rests again): left out for good, the right line
was shut out by two wrong fixes of it (gcd: `return gcd(a % b, b)`, the attempts after edited `if b == 0:`
and `return a` until the time limit). Fixes already tried on it stay refused (call_checks.check_tried), so an
attempt that is offered it again must write a new one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wren.agent.rewrite import Target

MAX_ATTEMPTS = 12  # a 20-step turn: one edit an attempt, the last with every tool
MIN_STEPS = 2  # a fresh attempt needs a step to edit (Wren tests the change) and one to answer
FAILED_FIXES = 1  # tested changes in a row that left the tests failing: the attempt's theory is wrong
LINE_TRIES = 2  # failed fixes of one line (in all attempts) before the next attempts are not offered it
LINE_REST = 2  # attempts a line that many fixes failed sits out before it is offered again
REFUSED_EDITS = 2  # edits of an attempt refused (would not parse, denied) before a fresh attempt starts
CHANGE_FILES = 3  # files a failed attempt changed, named to the next one

# A fresh attempt that starts from the files of the run where the most tests passed (Attempt.best).
KEPT = ("[Wren] Attempt {n} of {most}. An earlier attempt did not make all the tests pass ({why}), so it is gone "
        "from this conversation; but its change to {changed} made more tests pass ({passed} where {before} passed), "
        "so the files keep it and Wren ran the tests again. Look at the failing test output and the code again "
        "and fix what still fails.")
# A fresh attempt that goes back to the kept change's files, after one from the turn's start.
RETURN = ("[Wren] Attempt {n} of {most}. An earlier attempt did not make all the tests pass ({why}), so it is gone "
          "from this conversation; this one starts from the files of an earlier change that made more tests pass "
          "({passed} where {before} passed), and Wren ran the tests again. Look at the failing test output and the "
          "code again and fix what still fails.")
# A fresh attempt that starts from the turn's files again, after one from the kept change's.
BACK = ("[Wren] Attempt {n} of {most}. An earlier attempt did not make all the tests pass ({why}), so it is gone "
        "from this conversation, and this one starts again from the files as they were before any change: the "
        "change that made {passed} tests pass may be the wrong way to the fix, and the next attempt goes back to it. "
        "Wren ran the tests again. Look at the failing test output and the code again and find a different fix.")
FRESH = ("[Wren] Attempt {n} of {most}. An earlier attempt did not make the tests pass ({why}), so the "
         "files are back as they were and that attempt is gone from this conversation. {changed}Look at the "
         "failing test output and the code again and find a different fix.")

# What the attempts on one side (Attempt.sides) tried: the session's tried_changes, Attempt.line_failures, .resting.
Side = tuple[dict[tuple[str, str, str], str], dict[tuple[str, str], int], dict[tuple[str, str], int]]


@dataclass
class Attempt:
    """The current attempt of a turn: where it starts in the working context and what it changed."""
    number: int = 1
    start: int = 0  # index of its first message in the working context (after Wren's orienting calls)
    # The session's compaction count when it started, or when a compaction last left its messages in place:
    # another compaction since evicted its start (see start_kept).
    compactions: int = 0
    oriented_from: int | None = None  # index of Wren's first orienting call, where its working set starts
    checkpoint: int | None = None  # the turn's first checkpoint: the files as they were before any change
    changes: list[str] = field(default_factory=list)  # unified diffs of the changes it made
    failed_fixes: int = 0  # its changes tested in a row with the tests still failing
    # The test state orienting left (last target run, tests passed, whether it failed): every attempt
    # that starts after the same orienting calls starts from it. None: no run counted.
    oriented: tuple[str | None, int, bool] | None = None
    edit_first: list[str] = field(default_factory=list)  # code files its first step must edit (or answer): careful.orient
    failing: list[str] = field(default_factory=list)  # test files whose run failed when Wren oriented
    under_test: set[str] = field(default_factory=set)  # workspace files the failing test files import, at any depth
    untested: list[tuple[str, str, str]] = field(default_factory=list)  # edits since the last run_tests: see call_checks.change_key
    # (path, `old` with whitespace runs made one space) of edits refused as tried (call_checks.check_tried) or that
    # restated their line (call_checks.changed): its narrowed steps offer those lines no more
    refused: set[tuple[str, str]] = field(default_factory=set)
    # (path, line) -> failed fixes of it in this turn's attempts since it last rested; see LINE_TRIES
    line_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    # (path, line) -> the number of the last attempt that is not offered it; see LINE_REST
    resting: dict[tuple[str, str], int] = field(default_factory=dict)
    refused_edits: int = 0  # its edit_file calls refused (call_checks.changed); see REFUSED_EDITS
    # The `new` texts of its refused edits, which its narrowed steps may not write on any line: Qwen2.5-Coder-1.5B,
    # its `new` refused as unparseable, wrote the very same text on the next line (gcd, twice in two runs), which
    # ended the attempt (REFUSED_EDITS).
    refused_new: set[str] = field(default_factory=set)
    # The first failure of the last failing run of the tests whose files were kept (ToolResult.first_failure; ""
    # after a run not understood), which a narrowed step's reason opens with (formats.reason_opening); and that
    # of the orienting runs, where every attempt starts.
    observed: str = ""
    oriented_failure: str = ""
    # A rewrite attempt's function (agent/rewrite.py), until its one step's reply; and whether that step's request
    # leaves its body out (SPEC, not CODE).
    rewrite: Target | None = None
    hidden: bool = False
    # After a rewrite the tests passed: (the step whose request asks for the answer, the function as it was, as it
    # is); see rewrite_steps.request.
    rewritten: tuple[int, Target, str] | None = None
    # The most tests of the oriented target that passed in this turn, above what orienting saw, and a checkpoint
    # of the files then (call_checks.keep_best): the next fresh attempt starts from them, not the turn's start.
    best: tuple[int, int] | None = None
    origin: int | None = None  # the checkpoint its files came from (a best's); None: `checkpoint`, the turn's start
    refined: int | None = None  # the checkpoint of the last best an attempt started from (see next_files)
    # What the attempts from the other files (a checkpoint; None: the turn's start) learnt there: the session's
    # tried_changes, line_failures and resting, each held while the attempts are on these files (careful.fresh_attempt).
    # A fix that failed on top of a kept change may be the fix of the turn's files.
    sides: dict[int | None, Side] = field(default_factory=dict)
    # How many of the turn's attempts before this one started from each side's files (a checkpoint; None: the
    # turn's start); see on_side.
    counts: dict[int | None, int] = field(default_factory=dict)

    def on_side(self) -> int:
        """This attempt's place among the attempts from its files (1 for the first): a side's attempts take turns
        between edits and rewrites (rewrite.is_rewrite) on their own. Counted by the turn's attempt number, the
        rewrites fell on one side once the attempts took turns between a kept change and the turn's start: in
        QuixBugs longest_common_subsequence and hanoi at 7a2f80a, every attempt from the turn's start after the
        keep was a rewrite, every one from the kept change an edit, and the original programs are one edit from
        passing."""
        return self.counts.get(self.origin, 0) + 1

    def start_kept(self, compactions: int) -> bool:
        """Whether its messages (from where Wren oriented it) are still in the working context, given the
        session's compaction count."""
        return self.compactions == compactions

    def working_set(self, compactions: int) -> int | None:
        """The index an automatic compaction should keep the messages from (ContextService.ensure_room):
        where Wren's orienting calls start, while they are in the working context; None otherwise."""
        return self.oriented_from if self.start_kept(compactions) else None

    def evicted(self, count: int, compactions: int) -> None:
        """A compaction (now the session's number `compactions`) evicted the `count` oldest messages: when
        none of them was the attempt's, its indices move down by `count` and it stays whole."""
        if self.oriented_from is not None and self.compactions == compactions - 1 and count <= self.oriented_from:
            self.start -= count
            self.oriented_from -= count
            self.compactions = compactions

    def line_failed(self, line: tuple[str, str]) -> None:
        """A fix of `line` ((path, line with whitespace runs made one space)) was tested and failed. At
        LINE_TRIES failures it rests for the LINE_REST attempts after this one, and one more failure after
        its rest sends it back."""
        n = self.line_failures.get(line, 0) + 1
        if n >= LINE_TRIES:
            self.resting[line] = self.number + LINE_REST
            n = LINE_TRIES - 1
        self.line_failures[line] = n

    def tried_out(self, number: int) -> set[tuple[str, str]]:
        """The lines attempt `number` is not offered: those resting (line_failed) through it."""
        return {line for line, last in self.resting.items() if number <= last}

    def next_files(self, last: bool) -> tuple[tuple[int, int] | None, bool]:
        """Where the next attempt's files come from, once a change was kept (`best`): (best, False) for its
        files, when this attempt did not start from them (a change kept in this attempt included) or the next is the
        `last` attempt (the turn ends on the most tests passing); (None, True) for the turn's start, when this attempt
        started from the kept files; (None, False) when nothing was kept: the files this attempt started from. So
        the attempts take turns between the kept change and the turn's start, each oriented anew."""
        if self.best is not None and (self.best[1] != self.origin or last):
            return self.best, False
        return None, self.origin is not None

    def note(self, why: str) -> str:
        """The message that starts the next attempt. It names the files the failed attempt changed but
        not its lines: shown them, Qwen2.5-Coder-1.5B made the same edits again (copying is what a small
        model does best), and the files it named pulled it back into a program the tests never run."""
        files = list(dict.fromkeys(line[6:] for diff in self.changes for line in diff.splitlines()
                                   if line.startswith("+++ b/")))
        changed = f"It changed {', '.join(files[:CHANGE_FILES])}, which did not work. " if files else ""
        return FRESH.format(n=self.number + 1, most=MAX_ATTEMPTS, why=why, changed=changed)
