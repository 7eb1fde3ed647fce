"""Edits refused before they are written: ones that would break a file's syntax, or use a name the file lacks
(tools/syntax.py); and the test of what counts as the same Python."""
from __future__ import annotations

import sys

import pytest

from test_tools_edit import GO, call, edit
from wren.core.errors import ToolError


SEARCH = ("def find(arr, x):\n    lo, hi = 0, len(arr)\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
          "        if x == arr[mid]:\n            return mid\n        else:\n            lo = mid + 1\n    return -1\n")


@pytest.mark.parametrize("old, new, message, line", [
    # Qwen2.5-Coder-1.5B's fixes of QuixBugs find_first_in_sorted: a statement after a block's colon.
    ("if x == arr[mid]:", "if x == arr[mid]: return mid - 1", "unexpected indent", 6),
    ("else:", "else: return mid", "unexpected indent", 8),
    ("mid = (lo + hi) // 2", "mid = ((lo + hi) // 2", "'(' was never closed", 4),
])
def test_an_edit_that_breaks_python_syntax_is_refused_and_shows_where(tmp_path, old, new, message, line):
    (tmp_path / "search.py").write_text(SEARCH)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "search.py", old, new)
    said = str(refused.value)
    assert said.startswith(f"this change would leave search.py unable to parse ({message}, to Python "
                           f"{sys.version_info[0]}.{sys.version_info[1]}, line {line}), so nothing was changed. "
                           "The file would have read:\n")
    assert f"{line:>6}\t" in said and new in said and said.endswith("on their own lines under it, indented.")
    assert (tmp_path / "search.py").read_text() == SEARCH  # nothing written


def test_syntax_is_judged_only_where_the_file_parsed_before(tmp_path):
    # A file that was already broken may be edited (the fix may take more than one edit).
    (tmp_path / "half.py").write_text("def f(:\n    return 1\n")
    edit(tmp_path, "half.py", "return 1", "return 2")
    assert (tmp_path / "half.py").read_text() == "def f(:\n    return 2\n"
    # Other languages by their tree-sitter grammar; files of no known language as they come.
    (tmp_path / "calc.go").write_text(GO)
    with pytest.raises(ToolError, match=r"unable to parse \(.*, line \d\)"):
        edit(tmp_path, "calc.go", "return b\n}", "return b\n")
    (tmp_path / "notes.txt").write_text("if x:\n  y\n")
    edit(tmp_path, "notes.txt", "y", "  (((")
    # write_file over a Python file that parsed: refused the same way.
    (tmp_path / "search.py").write_text(SEARCH)
    with pytest.raises(ToolError, match=r"unable to parse \(unexpected indent, to Python 3\.\d+, line 2\)"):
        call(tmp_path, "write_file", path="search.py", content="x = 1\n    y = 2\n")
    assert (tmp_path / "search.py").read_text() == SEARCH
    # Syntax newer than this interpreter's, which tree-sitter's grammar parses, is written (Python 3.12's
    # `type` statement, refused by 3.11's compiler).
    edit(tmp_path, "search.py", "def find(arr, x):", "type Index = int\n\n\ndef find(arr, x):")
    assert (tmp_path / "search.py").read_text().startswith("type Index = int\n")


FLATTEN = ("def flatten(arr):\n    for x in arr:\n        if isinstance(x, list):\n            for y in flatten(x):\n"
           "                yield y\n        else:\n            yield flatten(x)\n")


def test_an_edit_that_uses_a_name_the_file_does_not_have_is_refused_and_shows_where(tmp_path):
    """Qwen2.5-Coder-1.5B's fix of QuixBugs flatten in a CI run: `yield flatten2(x)`, a NameError to be."""
    (tmp_path / "flatten.py").write_text(FLATTEN)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "flatten.py", "yield flatten(x)", "yield flatten2(x)")
    said = str(refused.value)
    assert said.startswith("this change would use `flatten2` where flatten.py has not defined or imported it (nor "
                           "does Python), so it would raise NameError and nothing was changed. The file would have "
                           "read:\n")
    assert "     7\t            yield flatten2(x)" in said and said.endswith("or define or import the new one first.")
    # A name the file binds only later (Qwen, max_sublist_sum: `max_ending_here = 0 if x >= 0 else ...` above the
    # loop that binds `x`) has no value where it is used.
    (tmp_path / "msum.py").write_text("def msum(arr):\n    best = 0\n    for x in arr:\n        best += x\n"
                                      "    return best\n")
    with pytest.raises(ToolError, match="would use `x` where msum.py has not defined"):
        edit(tmp_path, "msum.py", "best = 0", "best = 0 if x >= 0 else 1")
    assert (tmp_path / "flatten.py").read_text() == FLATTEN  # nothing written
    # Two new names, named in the order they are used; an import the change forgot is one.
    with pytest.raises(ToolError, match="would use `math`, `helper` where flatten.py has not defined or imported them"):
        edit(tmp_path, "flatten.py", "yield y", "yield math.floor(y) + helper(y)")
    # The same through write_file.
    with pytest.raises(ToolError, match="would use `flaten`"):
        call(tmp_path, "write_file", path="flatten.py", content=FLATTEN.replace("flatten(x)", "flaten(x)"))
    assert (tmp_path / "flatten.py").read_text() == FLATTEN


def test_names_are_judged_against_what_the_file_already_missed(tmp_path):
    from wren.tools.syntax import undefined_names

    # Builtins, names the change defines, imports or binds, and names defined later in the file are names it has.
    (tmp_path / "flatten.py").write_text(FLATTEN)
    edit(tmp_path, "flatten.py", "yield flatten(x)", "yield str(x) if isinstance(x, bytes) else x")
    call(tmp_path, "write_file", path="flatten.py",
         content=FLATTEN.replace("yield y", "yield deep(y)") + "\n\ndef deep(y):\n    return y\n")
    edit(tmp_path, "flatten.py", "def flatten(arr):", "import math\n\n\ndef flatten(arr):\n    _ = math.pi")
    # A name the file already used without defining it (a global set elsewhere) may be used again.
    (tmp_path / "uses.py").write_text("def f():\n    return CONFIG['a']\n")
    edit(tmp_path, "uses.py", "return CONFIG['a']", "return CONFIG['b'] or CONFIG['a']")
    # After a star import any name may be defined: nothing is refused.
    (tmp_path / "star.py").write_text("from os.path import *\n\nx = join('a', 'b')\n")
    edit(tmp_path, "star.py", "x = join('a', 'b')", "x = joinpath('a', 'b')")
    # Annotations Python does not evaluate (a local's), and stubs, which never run, are not judged.
    edit(tmp_path, "uses.py", "return CONFIG['b'] or CONFIG['a']", "found: List[int] = []\n    return found")
    (tmp_path / "shapes.pyi").write_text("class Node:\n    pass\n")
    edit(tmp_path, "shapes.pyi", "pass", "def children(self) -> list[Later]: ...")
    # A definition renamed while the file still uses the old name: told so, not told the old name is new.
    (tmp_path / "calls.py").write_text("def old_name(a):\n    return a\n\n\ndef g():\n    return old_name(1)\n")
    with pytest.raises(ToolError, match=r"would remove what defines or imports `old_name`, which calls.py still "
                                        r"uses \(line 6\)"):
        edit(tmp_path, "calls.py", "def old_name(a):", "def new_name(a):")
    edit(tmp_path, "calls.py", "old_name", "new_name", replace_all=True)  # the uses in the same edit
    # Not Python, or not parsing: no names judged.
    assert undefined_names("a.js", "x = y") == {} and undefined_names("a.py", "def f(:") == {}
    assert undefined_names("a.py", "print(a)\nb = a + c\n") == {"a": 1, "c": 2}



def test_python_that_differs_only_in_whitespace_or_comments_is_the_same_code():
    from wren.tools.syntax import same_python

    assert same_python("def kheapsort(arr, k):", "def kheapsort(arr, k) :")
    assert same_python("return a - b", "return a-b  # subtracts") and same_python("x = [1,\n2]", "x = [1,\n3]") is False
    assert not same_python("return a - b", "return a + b") and not same_python("s = 'a b'", "s = 'ab'")
    assert not same_python("x = f(", "x = f( ")  # does not tokenize alone: not judged
    assert not same_python("if x:\n    y = 1", "if x:\ny = 1")  # indentation is code in Python
    assert not same_python('print(f"{x = }")', 'print(f"{x=}")') and not same_python("x = f(y)", "x = f(y)  # type: ignore")
