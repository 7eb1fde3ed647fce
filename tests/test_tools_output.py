"""Long tool output cut to what a prompt can afford (tools/output.py cap)."""
from __future__ import annotations

import random
import re

from wren.tools.output import NOTE_CHARS, cap

NOTE = re.compile(r"\[\.\.\. (?:lines (\d+)-(\d+)|part of one line) \((\d+) chars\) cut(?:; [^\n]*)? \.\.\.\]\n")


def test_a_cut_output_fits_its_limit_note_included_and_says_what_it_cut():
    rng = random.Random(7)
    for _ in range(300):
        text = "\n".join("x" * rng.randint(0, 120) for _ in range(rng.randint(1, 400)))
        hint = rng.choice(["", "run_tests with a narrower target for the rest"])
        limit = rng.randint(NOTE_CHARS + len(hint), 3000)
        out = cap(text, limit, hint)
        assert len(out) <= limit, (len(text), limit, len(out))
        if out == text:
            continue
        note = NOTE.search(out)
        assert note, out[:200]
        head, tail = out[: note.start()], out[note.end():]
        cut = int(note.group(3))
        assert text.startswith(head) and text.endswith(tail) and len(head) + cut + len(tail) == len(text)
        if note.group(1):  # the lines it names are the ones cut
            first, last = int(note.group(1)), int(note.group(2))
            assert first == head.count("\n") + 1 and last - first + 1 == text[len(head): len(text) - len(tail)].count("\n")
    assert cap("short", 10) == "short"
