"""Careful sessions: a fresh attempt when the model is stuck over failing tests.

A small model that goes wrong does not recover: its failed edits, errors and wrong theory
fill the prompt, and every later step builds on them (on QuixBugs, Qwen2.5-Coder-1.5B kept
"fixing" bucketsort with edits whose old and new text were the same until the step limit).
A fresh start from the same files samples a new line of thought. So when the model gives up
or is stopped as stuck (repeating itself, or failing step after step) while the tests it ran
still fail, and steps are left, Wren puts the files back as they were at the start of the turn,
drops the attempt from the working context (the session log keeps all of it), tells the model
in one line what the failed attempt changed, and orients it again. The step limit counts the
steps of every attempt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_ATTEMPTS = 3
MIN_STEPS = 4  # a fresh attempt needs steps to run the tests, read, edit and test again
CHANGE_LINES = 6  # changed lines of a failed attempt told to the next one

FRESH = ("[Wren] Attempt {n} of {most}. An earlier attempt did not make the tests pass ({why}), so the "
         "files are back as they were and that attempt is gone from this conversation. {changed}Look at the "
         "failing test and the code again and find a different fix.")


@dataclass
class Attempt:
    """The current attempt of a turn: where it starts in the working context and what it changed."""
    number: int = 1
    start: int = 0  # index of its first message in the working context
    compactions: int = 0  # the session's compaction count when it started (a compaction moves `start`)
    checkpoint: int | None = None  # the turn's first checkpoint: the files as they were before any change
    changes: list[str] = field(default_factory=list)  # unified diffs of the changes it made

    def note(self, why: str) -> str:
        """The message that starts the next attempt."""
        lines = [line for diff in self.changes for line in diff.splitlines()
                 if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        changed = ""
        if lines:
            shown = "\n".join(lines[:CHANGE_LINES]) + ("\n..." if len(lines) > CHANGE_LINES else "")
            changed = f"It changed (that did not work):\n{shown}\n"
        return FRESH.format(n=self.number + 1, most=MAX_ATTEMPTS, why=why, changed=changed)
