"""Careful sessions: a change that makes fewer tests pass is put back.

A small model that makes a wrong fix builds on it: on QuixBugs breadth_first_search,
Qwen2.5-Coder-1.5B turned 1 failing test into 4 and went on editing the broken program.
Wren remembers how many tests passed at each run_tests and the checkpoint taken just
before the next change; when the same tests run again and fewer pass, the files go
back to that checkpoint (with `wren undo`'s machinery: the reverted state is saved
as a checkpoint first, so nothing is lost) and the model is told why.
"""
from __future__ import annotations

from dataclasses import dataclass

REVERTED = ("\n[Wren put back {files} as they were at your previous run_tests: your change made fewer tests "
            "pass ({now} now, {before} before). The bug is elsewhere, or needs another change: read the code "
            "again and try a different fix.]")


@dataclass
class TestBaseline:
    """The last run_tests of a turn and the checkpoint that holds the files as they were then."""
    target: str | None = None  # run_tests' target of the last counted run
    passed: int | None = None  # tests it passed; None: no run counted yet
    checkpoint: int | None = None  # the first checkpoint taken after that run (its files are the run's)
    waiting: bool = False  # a run was counted and no change has been checkpointed since

    def tested(self, target: str | None, passed: int) -> None:
        """A run_tests whose files stay: the baseline for the next change."""
        self.target, self.passed, self.checkpoint, self.waiting = target, passed, None, True

    def checkpoint_taken(self, n: int | None) -> None:
        if self.waiting and n is not None:
            self.checkpoint, self.waiting = n, False

    def checkpoint_dropped(self, n: int | None) -> None:
        """A batch's checkpoint was dropped (the batch changed nothing): the next change is the first."""
        if n is not None and n == self.checkpoint:
            self.checkpoint, self.waiting = None, True

    def regressed(self, target: str | None, passed: int) -> int | None:
        """The checkpoint to restore when this run of the same target passed fewer tests, else None."""
        if self.checkpoint is None or self.passed is None or target != self.target or passed >= self.passed:
            return None
        return self.checkpoint
