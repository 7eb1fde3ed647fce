"""edit_file's rescues (tools/rescue.py): one-line Python edits that would not parse as written, made as meant."""
from __future__ import annotations

import pytest

from test_tools_edit import edit
from wren.core.errors import ToolError


KNAPSACK = ("def knapsack(capacity, items):\n    memo = {}\n    for i in range(1, len(items) + 1):\n"
            "        weight, value = items[i - 1]\n        for j in range(1, capacity + 1):\n"
            "            memo[i, j] = memo[i - 1, j]\n            if weight < j:\n                memo[i, j] = max(\n"
            "                    memo[i, j],\n                    value + memo[i - 1, j - weight]\n"
            "                )  # keep\n    return memo[len(items), capacity]\n")


def test_a_line_of_a_statement_over_several_replaced_by_a_whole_statement_replaces_the_statement(tmp_path):
    """QuixBugs knapsack: offered the line `memo[i, j] = max(` or its argument `memo[i, j],`, Qwen2.5-Coder-1.5B
    wrote a whole assignment as its `new`, and the edit was refused (8 of 17 edits in one run), a step each."""
    (tmp_path / "k.py").write_text(KNAPSACK)
    whole = "memo[i, j] = max(memo[i - 1, j], value + memo[i - 1, j - weight])"
    result = edit(tmp_path, "k.py", "memo[i, j] = max(", whole)
    assert result.ok and "it replaced all of that statement" in result.output
    assert (tmp_path / "k.py").read_text() == KNAPSACK.replace(
        "max(\n                    memo[i, j],\n                    value + memo[i - 1, j - weight]\n                )",
        whole.removeprefix("memo[i, j] = "))
    # `old` copied with its indentation, `new` too: the same.
    (tmp_path / "k.py").write_text(KNAPSACK)
    assert edit(tmp_path, "k.py", "                memo[i, j] = max(", "                " + whole).ok
    assert (tmp_path / "k.py").read_text() == KNAPSACK.replace(
        "max(\n                    memo[i, j],\n                    value + memo[i - 1, j - weight]\n                )",
        whole.removeprefix("memo[i, j] = "))
    # A later line of the statement (an argument), `new` an assignment to the same target: the same, the
    # comment after it kept.
    (tmp_path / "k.py").write_text(KNAPSACK)
    result = edit(tmp_path, "k.py", "memo[i, j],", "memo[i, j] = max(memo[i, j], value + memo[i - 1, j - weight])")
    assert result.ok and "it replaced all of that statement" in result.output
    assert (tmp_path / "k.py").read_text() == KNAPSACK.replace(
        "max(\n                    memo[i, j],\n                    value + memo[i - 1, j - weight]\n                )",
        "max(memo[i, j], value + memo[i - 1, j - weight])")
    # A `new` that is no whole statement (a comment alone is none), or a block's header; for a later line one
    # that is not the same statement (another target, an expression, two lines): refused as before.
    (tmp_path / "k.py").write_text(KNAPSACK)
    for old, new in (("memo[i, j] = max(", "memo[i, j] = max(memo[i, j]"), ("memo[i, j],", "best = 1"),
                     ("memo[i, j],", "memo[i, j]"), ("memo[i, j],", "memo[i, j] = 1\nmemo[i, j] += 1"),
                     ("value + memo[i - 1, j - weight]", "return value"),
                     ("memo[i, j] = max(", "# memo[i, j] = max(")):
        with pytest.raises(ToolError, match="unable to parse"):
            edit(tmp_path, "k.py", old, new)
    assert (tmp_path / "k.py").read_text() == KNAPSACK
    # A keyword argument named like the target, or a call of the same function inside, its comma dropped: an
    # argument rewritten, not the statement (the rest of the call would be lost): refused.
    for text, old, new in (('model = Model(\n    model="gpt-4o",\n    temperature=0,\n)\n', 'model="gpt-4o",', 'model="gpt-5"'),
                           ('print(\n    "a",\n    print("b"),\n    "c",\n)\n', 'print("b"),', 'print("B")')):
        (tmp_path / "m.py").write_text(text)
        with pytest.raises(ToolError, match="unable to parse"):
            edit(tmp_path, "m.py", old, new)
        assert (tmp_path / "m.py").read_text() == text
    # Another statement after it on its last line is not swallowed: refused.
    (tmp_path / "k.py").write_text("x = f(\n    1); y = 2\n")
    with pytest.raises(ToolError, match="unable to parse"):
        edit(tmp_path, "k.py", "x = f(", "x = 3  # three")


GCD = "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)\n"


def test_a_one_line_if_else_as_new_is_written_as_its_block(tmp_path):
    """Qwen2.5-Coder-1.5B wrote `if C: A; else: B` on one line as the `new` of a `return` line (QuixBugs gcd, kth,
    longest_common_subsequence), refused as unparseable: now written as the block it means, indented in place."""
    for new in ("if a % b == 0: return b; else: return gcd(b, a % b)", "if a % b == 0: return b else return gcd(b, a % b)",
                "if a % b == 0: return b else: return gcd(b, a % b)"):
        (tmp_path / "gcd.py").write_text(GCD)
        result = edit(tmp_path, "gcd.py", "return gcd(a % b, b)", new)
        assert result.ok and "it was written as a block" in result.output, new
        assert (tmp_path / "gcd.py").read_text() == GCD.replace(
            "        return gcd(a % b, b)\n", "        if a % b == 0:\n            return b\n        else:\n"
            "            return gcd(b, a % b)\n"), new
    # `old` and `new` with their indentation; an `x if c else y` inside stays whole.
    (tmp_path / "gcd.py").write_text(GCD)
    assert edit(tmp_path, "gcd.py", "        return gcd(a % b, b)",
                "        if a: return b if b else a else: return gcd(b, a % b)").ok
    assert (tmp_path / "gcd.py").read_text() == GCD.replace(
        "        return gcd(a % b, b)\n", "        if a:\n            return b if b else a\n        else:\n"
        "            return gcd(b, a % b)\n")
    # `old` with its indentation, `new` without; a conditional expression in the `else` part.
    (tmp_path / "gcd.py").write_text(GCD)
    assert edit(tmp_path, "gcd.py", "        return gcd(a % b, b)", "if a: return b else: return a if b else b").ok
    assert (tmp_path / "gcd.py").read_text() == GCD.replace(
        "        return gcd(a % b, b)\n", "        if a:\n            return b\n        else:\n"
        "            return a if b else b\n")
    # A tab-indented file gets tabs.
    (tmp_path / "gcd.py").write_text(GCD.replace("    ", "\t"))
    assert edit(tmp_path, "gcd.py", "return gcd(a % b, b)", "if a % b == 0: return b else: return a").ok
    assert (tmp_path / "gcd.py").read_text() == GCD.replace("    ", "\t").replace(
        "\t\treturn gcd(a % b, b)\n", "\t\tif a % b == 0:\n\t\t\treturn b\n\t\telse:\n\t\t\treturn a\n")
    # A line that opens a block (its body would end up under the new `else:`), or anything else that does
    # not parse: refused as before.
    (tmp_path / "gcd.py").write_text(GCD)
    for old, new in (("if b == 0:", "if b == 0: return a else: return gcd(b, a % b)"),
                     ("return gcd(a % b, b)", "if a % b == 0 return b else: return a")):
        with pytest.raises(ToolError, match="unable to parse"):
            edit(tmp_path, "gcd.py", old, new)
    assert (tmp_path / "gcd.py").read_text() == GCD


def test_a_one_line_if_elif_chain_as_new_is_written_as_its_block(tmp_path):
    """Qwen2.5-Coder-1.5B, in a chained gcd, wrote `if b == 0: return a; elif a == 0: return b; else: return
    gcd(a % b, b)` as the `new` of two lines in a row; both refused as unparseable ended its attempt."""
    new = "if b == 0: return a; elif a == 0: return b; else: return gcd(a % b, b)"
    (tmp_path / "gcd.py").write_text(GCD)
    result = edit(tmp_path, "gcd.py", "return gcd(a % b, b)", new)
    assert result.ok and "it was written as a block" in result.output
    assert (tmp_path / "gcd.py").read_text() == GCD.replace(
        "        return gcd(a % b, b)\n", "        if b == 0:\n            return a\n        elif a == 0:\n"
        "            return b\n        else:\n            return gcd(a % b, b)\n")
    # With no `else`; and an `x if c else y` in the last body stays whole.
    (tmp_path / "gcd.py").write_text(GCD)
    assert edit(tmp_path, "gcd.py", "return a", "if a: return a; elif b: return b if a else a").ok
    assert (tmp_path / "gcd.py").read_text() == GCD.replace(
        "        return a\n", "        if a:\n            return a\n        elif b:\n            return b if a else a\n")
    # An `elif` clause with no colon: refused as before, the file unchanged.
    (tmp_path / "gcd.py").write_text(GCD)
    with pytest.raises(ToolError, match="unable to parse"):
        edit(tmp_path, "gcd.py", "return a", "if a: return a; elif b return b")
    assert (tmp_path / "gcd.py").read_text() == GCD


KTH = "def kth(arr, k):\n    pivot = arr[0]\n    return pivot + k\n"


def test_a_one_line_guard_whose_body_goes_on_after_its_return_is_written_before_the_line(tmp_path):
    """Qwen2.5-Coder-1.5B wrote `if not arr: return None; pivot = arr[0]` for kth's `pivot = arr[0]` (twice in one
    run): it parses, and Python runs the old line only inside the guard, so every other call failed on `pivot`."""
    (tmp_path / "kth.py").write_text(KTH)
    result = edit(tmp_path, "kth.py", "pivot = arr[0]", "if not arr: return None; pivot = arr[0]")
    assert result.ok and "were written after the `if`, not inside it" in result.output
    assert (tmp_path / "kth.py").read_text() == KTH.replace(
        "    pivot = arr[0]\n", "    if not arr:\n        return None\n    pivot = arr[0]\n")
    # A guard with no code after its jump, or a one-line `if` with no jump, is the model's to mean: as written.
    for old, new in (("return pivot + k", "if not arr: return None"), ("pivot = arr[0]", "if arr: pivot = arr[0]; k += 1")):
        (tmp_path / "kth.py").write_text(KTH)
        result = edit(tmp_path, "kth.py", old, new)
        assert result.ok and "not inside it" not in result.output
        assert (tmp_path / "kth.py").read_text() == KTH.replace(old, new)
    # A guard that drops the line it stands in for leaves `pivot` unbound: refused (tools/syntax.py), not rescued.
    (tmp_path / "kth.py").write_text(KTH)
    with pytest.raises(ToolError, match="would remove what defines or imports `pivot`, which kth.py still uses"):
        edit(tmp_path, "kth.py", "pivot = arr[0]", "if not arr: return None")


@pytest.mark.parametrize("new, block", [
    ("if not arr: raise ValueError('Array is empty') pivot = arr[0]",
     "    if not arr:\n        raise ValueError('Array is empty')\n    pivot = arr[0]\n"),
    ("if not arr: return None pivot = arr[0]", "    if not arr:\n        return None\n    pivot = arr[0]\n"),
    ("if len(arr) == 0: arr = max(arr, [1, 2]) pivot = arr[-1]",
     "    if len(arr) == 0:\n        arr = max(arr, [1, 2])\n    pivot = arr[-1]\n"),
])
def test_a_statement_run_on_after_a_one_line_if_is_written_after_the_if_s_block(tmp_path, new, block):
    """Qwen2.5-Coder-1.5B wrote `if not arr: raise ValueError('...') pivot = arr[0]` for kth's `pivot = arr[0]`
    (twice in one run, each refused as unparseable): the guard it meant, then its old line."""
    (tmp_path / "kth.py").write_text(KTH)
    result = edit(tmp_path, "kth.py", "pivot = arr[0]", new)
    assert result.ok and "with no `;` or line break between" in result.output
    assert (tmp_path / "kth.py").read_text() == KTH.replace("    pivot = arr[0]\n", block)


def test_code_that_is_not_a_run_on_if_is_refused_or_written_as_given(tmp_path):
    from wren.tools.rescue import run_on_block

    assert run_on_block("if b == 0 return a") is None  # no colon: no split parses
    assert run_on_block("if x: y = 1") is None  # parses as it is
    assert run_on_block("x = 1 y = 2") is None  # no `if`
    assert run_on_block("if x: return a\nb = 2") is None  # more than one line
    # A split that leaves a statement doing nothing is no guard and a statement: still refused as written.
    for code in ('if n < 0: raise ValueError "negative"', "if debug: import os sys", "if n < 0: return -n n",
                 'if x: print "hi"', "if x: y = a not b"):
        assert run_on_block(code) is None, code
    assert run_on_block("if x: y = " + "a " * 300) is None  # past RUN_ON_CHARS: not split
    (tmp_path / "kth.py").write_text(KTH)
    with pytest.raises(ToolError, match="unable to parse"):
        edit(tmp_path, "kth.py", "pivot = arr[0]", "if not arr: return None pivot = = arr[0]")
    assert (tmp_path / "kth.py").read_text() == KTH


GCD_IF = "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)\n\n\nx = 1\n"


@pytest.mark.parametrize("old, new", [
    ("return a", "return a if b == 0 else gcd(b, a % b)"),
    ("return gcd(a % b, b)", "return gcd(b, a % b) if b != 0 else a"),
    ("        return gcd(a % b, b)", "        return a if not b == 0 else gcd(b, a % b)"),
])
def test_a_branch_rewritten_as_a_conditional_over_its_if_replaces_the_whole_if(tmp_path, old, new):
    """QuixBugs gcd: Qwen2.5-Coder-1.5B wrote `return a if b == 0 else gcd(b, a % b)` for `return a` under
    `if b == 0:` (twice in one run): as written its `else` arm can never run and gcd still recursed forever;
    meant for the whole if/else, it is the fix."""
    (tmp_path / "gcd.py").write_text(GCD_IF)
    result = edit(tmp_path, "gcd.py", old, new)
    assert result.ok and "it replaced that whole `if`/`else`" in result.output
    assert (tmp_path / "gcd.py").read_text() == GCD_IF.replace(
        "if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)", new.strip())


@pytest.mark.parametrize("text, old, new", [
    (GCD_IF, "return a", "return a if a > b else b"),  # another condition: the model's to mean
    (GCD_IF, "return a", "x = a if b == 0 else b"),  # another statement than the branches'
    (GCD_IF.replace("    else:\n", "    elif a:\n        return b\n    else:\n"), "return a", "return a if b == 0 else b"),
    (GCD_IF.replace("        return a\n", "        a += 1\n        return a\n"), "return a", "return a if b == 0 else b"),
    ("def f(a, b):\n    if b == 0:\n        return a\n    return b\n", "return a", "return a if b == 0 else b"),
])
def test_a_conditional_that_does_not_restate_its_whole_if_is_written_as_given(tmp_path, text, old, new):
    """No `else`, an `elif` chain, a branch of several statements, another condition or statement kind: the
    line is replaced as written."""
    (tmp_path / "f.py").write_text(text)
    result = edit(tmp_path, "f.py", old, new)
    assert result.ok and "whole `if`" not in result.output
    assert (tmp_path / "f.py").read_text() == text.replace(f"        {old}\n", f"        {new}\n", 1)


def test_the_if_else_rescue_keeps_to_the_if_it_names(tmp_path):
    """Found by review: a lone CR (a line break to Python's parser, not to the edit's line count) once made the
    rescue take another `if` and drop the code after it; a condition too deep for ast.dump raised out of the
    tool; a form feed before a top-level `if` was lost. Each now edits the line as written."""
    cases = [
        ('def f(a, b):\n    """Doc.\r"""\n    if b == 0:\n        iface = a\n    else:\n        iface = b\n'
         '    return iface\n', "return iface", "iface = a if b == 0 else b", None),
        ("def f(a, b):\n    if a == " + " + ".join(["1"] * 1200) + ":\n        return 1\n    else:\n        return 2\n"
         "\n\ndef g(a, b):\n    y = a\n    return y\n", "y = a", "y = a if b else 0", None),
        ("a = 1\n\x0cif a == 0:\n    x = 1\nelse:\n    x = 2\n", "x = 1", "x = 1 if a == 0 else 2", None),
    ]
    for text, old, new, meant in cases:
        (tmp_path / "f.py").write_bytes(text.encode())
        result = edit(tmp_path, "f.py", old, new)
        assert result.ok
        assert (tmp_path / "f.py").read_bytes().decode() == (meant or text.replace(old, new, 1))


HANOI = ("def hanoi(height, start=1, end=3):\n    steps = []\n    if height > 0:\n"
         "        helper = ({1, 2, 3} - {start} - {end}).pop()\n        steps.extend(hanoi(height - 1, start, helper))\n        steps.append((start, helper))\n"
         "        steps.extend(hanoi(height - 1, helper, end))\n    return steps\n")


def test_two_statements_run_together_on_one_line_are_written_as_two_lines(tmp_path):
    """Qwen2.5-Coder-1.5B wrote `steps.extend(hanoi(height - 1, start, helper)) steps.extend(...)` for hanoi's
    line (twice in one attempt, each refused as unparseable, which ended the attempt)."""
    (tmp_path / "hanoi.py").write_text(HANOI)
    result = edit(tmp_path, "hanoi.py", "steps.append((start, helper))",
                  "steps.append((start, end)) steps.extend(hanoi(height - 1, helper, end))")
    assert result.ok and "two statements on one line" in result.output
    assert (tmp_path / "hanoi.py").read_text() == HANOI.replace(
        "        steps.append((start, helper))\n",
        "        steps.append((start, end))\n        steps.extend(hanoi(height - 1, helper, end))\n")


@pytest.mark.parametrize("new", [
    "import os sys",  # a split would leave `sys`, which does nothing
    "steps = [0] * height for _ in range(height)",  # `for ...` alone is no statement
    "steps.append(1) steps.append(2) steps.append(3)",  # three: no split into two parses
    "steps = [] if height > 0: steps = [1]",  # the second would be a block
    "return steps return []",  # the second could never run
])
def test_a_line_that_is_not_two_simple_statements_is_not_split(tmp_path, new):
    (tmp_path / "hanoi.py").write_text(HANOI)
    with pytest.raises(ToolError, match="unable to parse"):
        edit(tmp_path, "hanoi.py", "steps = []", new)
    assert (tmp_path / "hanoi.py").read_text() == HANOI


KHEAPSORT = ("def kheapsort(arr, k):\n    import heapq\n\n    heap = arr[:k]\n    heapq.heapify(heap)\n\n"
             "    for x in arr:\n        yield heapq.heappushpop(heap, x)\n\n    while heap:\n        yield heapq.heappop(heap)\n")


def test_the_json_closers_after_new_s_code_are_left_out(tmp_path):
    """Qwen2.5-Coder-1.5B, in narrowed edits (whose `new` may not be `old`), ended `new` with the `}}` that close
    the call: `heapq.heapify(heap, key=lambda x: x)}`, `group_by_node_copy = {}}` (refused as unparseable)."""
    (tmp_path / "kheapsort.py").write_text(KHEAPSORT)
    result = edit(tmp_path, "kheapsort.py", "heapq.heapify(heap)", "heap = sorted(heap)}}")
    assert result.ok and "written without them" in result.output
    assert (tmp_path / "kheapsort.py").read_text() == KHEAPSORT.replace("heapq.heapify(heap)", "heap = sorted(heap)")
    # Braces of its own are kept: only those no `{` opens go.
    result = edit(tmp_path, "kheapsort.py", "heap = arr[:k]", "heap = list({x: 1 for x in arr[:k]})}}")
    assert result.ok and "    heap = list({x: 1 for x in arr[:k]})\n" in (tmp_path / "kheapsort.py").read_text()


def test_old_with_json_closers_after_it_says_the_line_is_unchanged_and_writes_nothing(tmp_path):
    """`heap = arr[:k]}}` for `heap = arr[:k]` (kheapsort): the model meant the line as it is."""
    (tmp_path / "kheapsort.py").write_text(KHEAPSORT)
    with pytest.raises(ToolError, match=r"is the line as it is, so nothing was changed\. If that line is right"):
        edit(tmp_path, "kheapsort.py", "heap = arr[:k]", "heap = arr[:k]}}")
    assert (tmp_path / "kheapsort.py").read_text() == KHEAPSORT


@pytest.mark.parametrize("new", ["heap = arr[:k] +}}", "heap = {", "heap = {1: 2}} + ("])
def test_a_line_whose_closers_are_not_the_only_flaw_is_refused(tmp_path, new):
    (tmp_path / "kheapsort.py").write_text(KHEAPSORT)
    with pytest.raises(ToolError, match="unable to parse"):
        edit(tmp_path, "kheapsort.py", "heap = arr[:k]", new)
    assert (tmp_path / "kheapsort.py").read_text() == KHEAPSORT
