"""A reply that falls into a loop is cut where the loop starts (local_models/degenerate.py)."""
from __future__ import annotations

from wren.local_models.degenerate import LOOP_CHARS, close_cut_call, cut_loop, loop_start

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


def every_prefix_is_left_alone(text: str) -> bool:
    """As it streams: no prefix of `text` is taken for a loop."""
    return all(loop_start(text[:end]) is None for end in range(1, len(text) + 1))


def test_prose_that_repeats_a_phrase_a_path_or_a_rule_is_left_alone():
    files = "".join(f"- the test file python_testcases/test_{n}.py imports python_programs/{n}.py\n"
                    for n in ("gcd", "kth", "lis", "knapsack", "flatten", "hanoi"))
    assert every_prefix_is_left_alone(files)
    # Long shared folders, the file names apart (even when one starts like another).
    paths = "".join(f"- /home/alice/src/github.com/acme/payments-service/internal/billing/{n}.go\n"
                    for n in ("errors", "codes", "exit", "errors_test", "codes_test"))
    assert every_prefix_is_left_alone(paths)
    report = "The runner printed this, with its failures:\n" + "=" * 70 + "\nFAILED test_x\n" + "-" * 70 + "\nok"
    assert every_prefix_is_left_alone(report)
    assert loop_start(" " * (LOOP_CHARS * 4)) is None  # trailing whitespace is no loop to cut


def test_a_call_that_loops_in_its_last_string_is_cut_to_one_round_and_closed():
    """Qwen2.5-Coder-1.5B's narrowed edit of find_first_in_sorted, as it streamed until the loop showed."""
    import json

    from wren.local_models.formats import HERMES as fmt  # Qwen2.5's tags

    round_ = "mid if x == arr[mid] else -1 if x < arr[mid] else -1 if x > arr[mid] else "
    text = ('In the failing test, the input is [3, 4, 5], x = 5.\n<tool_call>\n{"name": "edit_file", "arguments": '
            '{"path": "p.py", "old": "if x == arr[mid]:", "new": "if x == arr[mid]: return ' + round_ * 4)
    closed = close_cut_call(text, fmt.close)
    reason, calls = fmt.parse(closed, "call_1")
    args = json.loads(calls[0].arguments)
    assert reason.startswith("In the failing test") and calls[0].name == "edit_file"
    assert args["old"] == "if x == arr[mid]:" and args["new"].count(round_.strip()) == 1
    assert close_cut_call(text[:150], fmt.close) is None  # no loop yet: nothing to close


def test_a_cut_inside_an_escape_still_closes_the_string():
    import json

    # A round that ends in the escape: the cut after the first round falls right after it.
    for escape in ("\\\\", "\\", "\\\\\\", "\\u00e"):  # whole, half, one and a half, half a \uXXXX
        loop = ("x == y else " + escape) * 30
        closed = close_cut_call('<tool_call>{"name": "e", "arguments": {"new": "a' + loop, "</tool_call>")
        assert closed is not None
        args = json.loads(closed.removeprefix("<tool_call>").removesuffix("</tool_call>"))["arguments"]
        assert args["new"].startswith("ax == y else")


RUNAWAY = ('In the failing test, `get_factors(100)` returned [2, 2, 5]. This happens because\n<tool_call>\n{"name": '
           '"edit_file", "arguments": {"path": "p.py", "old": "if n == 1:", "new": "if n == 1'
           + "".join(f" or n == {p}" for p in range(2, 200) if all(p % d for d in range(2, p))))  # the primes


def test_a_narrowed_edit_whose_new_runs_on_is_cut_and_closed():
    """Qwen2.5-Coder-1.5B listed primes in get_factors' `new` (`if n == 1 or n == 2 or n == 3 or ...`) until its
    768-token reply ran out, twice, each read back as broken JSON: past NEW_CHARS it is cut and closed."""
    import json

    from wren.local_models.degenerate import NEW_CHARS, runaway_new
    from wren.local_models.formats import HERMES as fmt

    start = RUNAWAY.index('"new": "') + len('"new": "')
    assert runaway_new(RUNAWAY[: start + NEW_CHARS]) is None and loop_start(RUNAWAY) is None  # no loop to see
    at = runaway_new(RUNAWAY)
    assert at == start + NEW_CHARS
    reason, calls = fmt.parse(close_cut_call(RUNAWAY, fmt.close, at), "call_1")
    args = json.loads(calls[0].arguments)
    assert reason.endswith("This happens because") and args["old"] == "if n == 1:"
    assert args["new"] == RUNAWAY[start: at]
    assert runaway_new('{"old": "x", "new": "short"}}') is None
