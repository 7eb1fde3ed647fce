"""Narrowed edit steps (agent/narrowing.py): which lines a local model's edit grammar offers."""
from __future__ import annotations

from test_orient import offered, write
from test_session import drive, make_session


def test_a_narrowed_edit_offers_only_lines_found_once(tmp_path):
    from wren.agent.narrowing import narrowed_edit
    from wren.tools.base import default_registry

    ws = write(tmp_path, {"a.py": "\ufeffdef f(x):\n    if x:\n        return None\n    y = 1\n    return None\n",
                          "b.bin": ""})
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00")
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    narrowed = narrowed_edit(tool, ["a.py", "b.bin", "gone.py"], ws)
    # The BOM is not part of a line; `return None` is there twice, so it is not offered.
    assert offered(narrowed) == {"a.py": ["def f(x):", "if x:", "y = 1"]}
    assert narrowed_edit(tool, ["b.bin", "gone.py"], ws) is None


def test_a_narrowed_edit_leaves_out_comments_and_docstrings_of_python_files(tmp_path):
    """Qwen2.5-Coder-1.5B, fixing kth, edited its docstring (`A list of ints` -> `integers`): no test
    can see such a change, so a narrowed edit offers only code lines; other files and Python that does
    not parse keep every line."""
    from wren.agent.narrowing import narrowed_edit
    from wren.tools.base import default_registry

    doc = '    """Sum.\n\n    Input: a list of ints\n    """\n'
    ws = write(tmp_path, {"a.py": f"def f(xs):\n{doc}    # the total\n    return sum(xs)  # of all\n\n\"\"\"\nOutput: an int\n\"\"\"\n",
                          "notes.txt": "# a heading\nsome text\n", "broken.py": "def f(:\n    # still offered\n"})
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    assert offered(narrowed_edit(tool, ["a.py", "notes.txt", "broken.py"], ws)) == {
        "a.py": ["def f(xs):", "return sum(xs)  # of all"], "notes.txt": ["# a heading", "some text"],
        "broken.py": ["def f(:", "# still offered"]}


def test_comment_and_docstring_lines_are_found_by_python_s_own_parser():
    from wren.agent.narrowing import prose_lines

    # Lines counted at "\n" as the parser counts them (a form feed is no line break here).
    assert prose_lines('x = 1\n\x0c\ndef f():\n    """Doc."""\n    return 2\n') == {4}
    # A line of a string value that starts with "#" is code; a comment after code is part of a code line.
    assert prose_lines('T = """\n# heading\n"""\n# a comment\nx = 1  # trailing\n') == {4}
    assert prose_lines("x = " + "+".join(["1"] * 20000) + "\n") == set()  # too deep to parse: all editable


def test_an_edit_that_restates_its_line_leaves_the_line_out_of_the_attempt_s_narrowed_steps(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B, its fix tested and failing, restated the line it had written (`old` == `new`)
    three times in a row, the same reason each time; after once, the line is no longer offered."""
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    restated = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "def add(a, b):", "new": "def add(a, b):"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [wrong]},  # tested by Wren: still failing
        {"expect": ["Tests (pytest): 0 passed, 1 failed"], "tool_calls": [restated]},
        {"expect": ["old and new are the same"], "content": "could not fix it"}], mode="auto", careful=True)
    drive(s, "The test in test_calc.py fails; fix it.", lambda e: None)
    lines = [offered(choice).get("calc.py", []) if isinstance(choice, dict) else [] for choice in s.backend.tool_choices]
    assert "def add(a, b):" in lines[1] and "def add(a, b):" not in lines[2]
    # The line the failed fix wrote is not offered after it either (Qwen put `return mid - 1` back as the
    # next fix, find_first_in_sorted): the attempt's fresh start puts the files back anyway.
    assert "return a - b" in lines[0] and "return a * b" not in lines[1]


def test_past_a_size_a_narrowed_edit_offers_a_file_s_lines_with_new_left_free(tmp_path, monkeypatch):
    from wren.agent.narrowing import narrowed_edit
    from wren.tools.base import default_registry

    monkeypatch.setattr("wren.agent.narrowing.UNEQUAL_CHARS", 20)  # one rule a character: big files keep the enum
    ws = write(tmp_path, {"a.py": "def f(x):\n    return x + 1\n", "b.py": "y = 2\n"})
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    big, small = narrowed_edit(tool, ["a.py", "b.py"], ws)["function"]["parameters"]["oneOf"]
    assert big["properties"]["old"] == {"enum": ["def f(x):", "return x + 1"]} and big["properties"]["new"] == {"type": "string"}
    assert small["properties"]["new"] == {"type": "string", "not": {"const": "y = 2"}}
