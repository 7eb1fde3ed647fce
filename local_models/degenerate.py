"""Degenerate repetition in a local model's reply: the loop a small model falls into, cut where it starts.

Sampling without a repetition penalty (Qwen2.5-Coder's own settings in llama.cpp), Qwen2.5-Coder-1.5B
answered README's first question correctly, then wrote the same two sentences again and again until
its 1,024-token reply budget ran out. The reply's text is watched as it streams: once it ends in a
stretch that repeats itself with one period, its last LOOP_CHARS characters there for the third time
and the stretch at least LOOP_SPAN long, the model is in a loop, and generation stops.
"""
from __future__ import annotations

import re

LOOP_CHARS = 60  # the tail looked for earlier: longer than what prose repeats on purpose (a path's folders)
LOOP_SPAN = 180  # the repeating stretch: three rounds of a 60-character sentence; a 70-character `====` rule is none
# A narrowed edit's `new`, in characters of JSON text: one line's fix, or the block it opens up to, fits well within.
NEW_CHARS = 400
NEW_VALUE = re.compile(r'"new"\s*:\s*"')


def loop_start(text: str, chars: int = LOOP_CHARS, span: int = LOOP_SPAN) -> int | None:
    """Where the loop that `text` ends in begins its second round: the index at which to cut so that
    one round is kept. None while `text` does not end in a loop: its last `chars` characters do not
    occur before, or the stretch that repeats with that period is shorter than two periods and `chars`
    (the tail's third time), or than `span`."""
    if len(text) < span:
        return None
    tail = text[-chars:]
    if not tail.strip():
        return None
    previous = text.rfind(tail, 0, len(text) - 1)  # the nearest earlier copy, overlapping or not
    if previous < 0:
        return None
    period = len(text) - chars - previous
    start = len(text) - period  # walk back while the text repeats with this period
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1
    # Two whole rounds and the tail once more (a third time); and never less than `span`.
    return start + period if len(text) - start >= max(span, 2 * period + chars) else None


def cut_loop(text: str) -> str:
    """`text` with a trailing loop (loop_start) cut down to one round, its end trimmed; else as it is."""
    at = loop_start(text)
    return text if at is None else text[:at].rstrip()


def runaway_new(text: str) -> int | None:
    """Where to cut a narrowed edit whose `new` (its arguments' last string) has run past NEW_CHARS characters of
    JSON text: NEW_CHARS into it. None while it has not, or before `new` starts. Qwen2.5-Coder-1.5B wrote `if n ==
    1 or n == 2 or n == 3 or n == 5 or ...` for QuixBugs get_factors' `if n == 1:` until its 768-token reply ran
    out, in two steps of about 100 s each, both then refused as broken JSON."""
    found = None
    for found in NEW_VALUE.finditer(text):
        pass
    if found is None or len(text) - found.end() <= NEW_CHARS:
        return None
    return found.end() + NEW_CHARS


def close_cut_call(text: str, close: str, at: int | None = None) -> str | None:
    """A tool call whose last JSON string fell into a loop (`text` ends in one: loop_start), cut to one
    round and closed (the string, the arguments object, the call object, then the format's `close` tag);
    None when `text` does not end in a loop. Or, given `at`, cut there (runaway_new). Qwen2.5-Coder-1.5B, in a
    narrowed edit of QuixBugs' find_first_in_sorted, wrote `new` as `return mid if x == arr[mid] else -1 if x <
    arr[mid] else ...` over and over; shown back cut mid-string, the call read as broken JSON and the model wrote
    it again, word for word, twice. Whether the closed text parses is the caller's to check."""
    at = loop_start(text) if at is None else at
    if at is None:
        return None
    kept = re.sub(r"\\u[0-9a-fA-F]{0,3}$", "", text[:at].rstrip())  # half a \uXXXX escape
    backslashes = len(kept) - len(kept.rstrip("\\"))
    return kept[:len(kept) - backslashes % 2] + '"}}' + close  # an odd one would escape the closing quote
