"""Degenerate repetition in a local model's reply: the loop a small model falls into, cut where it starts.

Sampling without a repetition penalty (Qwen2.5-Coder's own settings in llama.cpp), Qwen2.5-Coder-1.5B
answered README's first question correctly, then wrote the same two sentences again and again until
its 1,024-token reply budget ran out. The reply's text is watched as it streams: once its last
LOOP_CHARS characters have occurred LOOP_TIMES times, the model is in a loop, and generation stops.
"""
from __future__ import annotations

LOOP_CHARS = 60  # longer than the phrases prose repeats on purpose ("in python_programs/", a list's lead-in)
LOOP_TIMES = 3


def loop_start(text: str, chars: int = LOOP_CHARS, times: int = LOOP_TIMES) -> int | None:
    """Where the repetition that `text` ends in begins its second round: the index at which to cut so
    that one round is kept; None while `text` does not end in a loop (its last `chars` characters occur
    fewer than `times` times)."""
    if len(text) < chars * times:
        return None
    tail = text[-chars:]
    if not tail.strip():
        return None
    # Overlapping occurrences: a loop's period may be shorter than `chars`.
    found: list[int] = []
    at = text.find(tail)
    while at >= 0 and len(found) < times:
        found.append(at)
        at = text.find(tail, at + 1)
    if len(found) < times:
        return None
    # The loop's period, and the first character from which the text repeats with it: one period
    # after that, the second round begins.
    period, start = found[1] - found[0], found[0]
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1
    return start + period


def cut_loop(text: str) -> str:
    """`text` with a trailing loop (loop_start) cut down to one round, its end trimmed; else as it is."""
    at = loop_start(text)
    return text if at is None else text[:at].rstrip()
