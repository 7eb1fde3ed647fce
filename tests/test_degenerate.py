"""A reply that falls into a loop is cut where the loop starts (local_models/degenerate.py)."""
from __future__ import annotations

from wren.local_models.degenerate import LOOP_CHARS, cut_loop, loop_start

ANSWER = "The exit codes are in core/errors.py: FINISHED is 0 and FAILED is 1. "
ROUND = "It defines them as constants. They are used by the command line. "


def test_a_loop_of_sentences_is_cut_to_one_round():
    assert loop_start(ANSWER + ROUND * 2) is None  # said twice is not yet a loop
    looped = ANSWER + ROUND * 4
    assert loop_start(looped) is not None
    cut = cut_loop(looped)
    assert cut.startswith(ANSWER) and cut.count("They are used by the command line") == 1


def test_a_loop_shorter_than_the_window_is_cut_too():
    # Qwen2.5-Coder-1.5B once wrote `min(1, 1, 1, ...` until its token budget ran out.
    assert cut_loop("return min(1, " + "1, " * 100) == "return min(1,"


def test_prose_that_repeats_a_phrase_or_a_list_lead_in_is_left_alone():
    files = "".join(f"- the test file python_testcases/test_{n}.py imports python_programs/{n}.py\n"
                    for n in ("gcd", "kth", "lis", "knapsack", "flatten", "hanoi"))
    assert loop_start(files) is None and cut_loop(files) == files
    assert loop_start(" " * (LOOP_CHARS * 4)) is None  # trailing whitespace is no loop to cut
